"""A converted Keras CNN (Conv2D+BN+ReLU6, DepthwiseConv2D with a depth
multiplier, dilated and strided convs, a residual Add, pooling, Dense): the
tfq delegate claims every node of the kinds it supports, the rest stay on
TFLite's reference kernels, and the whole model's outputs equal BUILTIN_REF's
on random inputs, element for element."""
import concurrent.futures
import multiprocessing
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import OpResolverType

import tfq
from tests import application_sweep, interpreters

# The int8 ops the delegate claims (delegates/ops/op_table.cc).
DELEGATED_OPS = ("ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D",
                 "DEQUANTIZE", "FULLY_CONNECTED", "HARD_SWISH", "LEAKY_RELU", "LOGISTIC",
                 "MAX_POOL_2D", "MEAN", "MUL", "PAD", "PADV2", "QUANTIZE", "RELU", "RELU6",
                 "RELU_N1_TO_1", "RESHAPE", "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR",
                 "SOFTMAX", "SQUEEZE", "SUB", "TANH", "TRANSPOSE_CONV")


def _cnn():
    keras.utils.set_random_seed(11)
    inputs = keras.Input((20, 20, 3))
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False)(inputs)
    x = keras.layers.ReLU(6.0)(keras.layers.BatchNormalization()(x))
    y = keras.layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(x)
    y = keras.layers.ReLU()(y)
    y = keras.layers.Conv2D(16, 1)(y)
    x = keras.layers.Add()([x, y])
    x = keras.layers.Conv2D(24, 3, dilation_rate=2, padding="valid", activation="relu")(x)
    x = keras.layers.DepthwiseConv2D(5, strides=2, padding="valid")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(10)(x))


def _int8_tflite(model, *, samples, seed):
    """Stock TFLiteConverter full-integer PTQ, calibrated on uniform [-1, 1]."""
    rng = np.random.default_rng(seed)
    shape = (1, *model.input_shape[1:])

    def representative_dataset():
        for _ in range(samples):
            yield [rng.uniform(-1, 1, size=shape).astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative_dataset
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return converter.convert()


@pytest.fixture(scope="module")
def cnn_tflite():
    return _int8_tflite(_cnn(), samples=30, seed=5)


def test_cnn_is_delegated_and_exact(rng, cnn_tflite):
    ops = [op["op"] for op in tfq.inspect(cnn_tflite).to_dict()["ops"]]
    expected_claims = sum(op in DELEGATED_OPS for op in ops)
    assert expected_claims >= 6, ops
    delegate = tfq.delegate.load()
    interpreter = tfq.Interpreter(model_content=cnn_tflite, delegate=delegate,
                                  experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    reference = interpreters.reference(cnn_tflite)
    for batch in (1, 3):
        x = rng.integers(-128, 128, size=(batch, 20, 20, 3), dtype=np.int8)
        expected = interpreters.run(reference, x)[0]
        actual = interpreters.run(interpreter, x)[0]
        np.testing.assert_array_equal(actual, expected)
    total, claimed = delegate.last_claim()
    assert (total, claimed) == (len(ops), expected_claims), delegate.declined_nodes()
    for line in delegate.declined_nodes():
        assert "is not supported by tfq" in line, line


@pytest.mark.heavy
@pytest.mark.parametrize("application,nodes", [("MobileNetV2", 64), ("ResNet50", 74)])
def test_keras_application_224_wholly_delegated_and_exact(rng, application, nodes):
    """keras.applications models (weights=None, 224x224, logits out: a
    softmax on random-weight logits has a scale BUILTIN_REF aborts on, see
    the notes), calibrated on random data. Every node is delegated
    (claim_all: any declined node fails the test). Output == BUILTIN_REF,
    with 1 and 2 delegate threads."""
    keras.utils.set_random_seed(0)
    model = getattr(keras.applications, application)(
        weights=None, input_shape=(224, 224, 3), classifier_activation=None)
    tflite_model = _int8_tflite(model, samples=4, seed=0)
    x = rng.integers(-128, 128, size=(1, 224, 224, 3), dtype=np.int8)
    expected = interpreters.run(interpreters.reference(tflite_model), x)[0]
    for threads in (1, 2):
        interpreter, delegate = interpreters.tfq_litert(tflite_model, num_threads=threads)
        np.testing.assert_array_equal(interpreters.run(interpreter, x)[0], expected)
        assert delegate.last_claim() == (nodes, nodes)


@pytest.mark.heavy
@pytest.mark.parametrize("application", list(application_sweep.APPLICATIONS))
def test_keras_applications_run_whole_on_every_seed(application):
    """Ten seeded initialisations of each (stock converter, random
    calibration): every node claimed, so one partition, and the output equal
    to BUILTIN_REF's. Users' weights are not one seed: on some, a random
    MobileNetV3Small's late blocks have scales near 1e-8 where TFLite's
    HARD_SWISH rounds its own way. Every Keras 3 model whose Reshape /
    Flatten keeps a dynamic batch (MobileNet's head) ends in SHAPE ->
    STRIDED_SLICE -> PACK -> RESHAPE, which the delegate runs too. Two worker
    processes: the seeds are independent conversions."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as pool:
        results = list(pool.map(application_sweep.claim_and_compare,
                                [application] * 10, range(10)))
    for seed, result in enumerate(results):
        assert result["claimed"] == result["total"], (seed, result["declined"])
        assert result["max_difference"] == 0, (seed, result)
