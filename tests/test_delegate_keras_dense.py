"""Acceptance: a full-int8 Keras model of Dense layers runs on the tfq delegate
in both interpreters, every FULLY_CONNECTED node delegated, outputs equal to
BUILTIN_REF on 1,000 random inputs."""
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests import interpreters

INPUT_DEPTH = 20


def _dense_model():
    keras.utils.set_random_seed(7)
    return keras.Sequential([
        keras.Input((INPUT_DEPTH,)),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(24, activation="relu6", use_bias=False),
        keras.layers.Dense(16),
        keras.layers.Dense(10),
    ])


def _convert(model, *, per_tensor):
    rng = np.random.default_rng(3)

    def representative_dataset():
        for _ in range(50):
            yield [rng.normal(0, 2, size=(1, INPUT_DEPTH)).astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative_dataset
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    if per_tensor:
        converter._experimental_disable_per_channel_quantization_for_dense_layers = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return converter.convert()


@pytest.fixture(scope="module", params=["per_channel", "per_tensor"])
def dense_tflite(request):
    return _convert(_dense_model(), per_tensor=request.param == "per_tensor"), request.param


def _fully_connected_nodes(model_bytes):
    interpreter = interpreters.reference(model_bytes)
    return [op for op in interpreter._get_ops_details()  # pylint: disable=protected-access
            if op["op_name"] == "FULLY_CONNECTED"], interpreter


def test_model_has_the_intended_quantization(dense_tflite):
    model_bytes, scheme = dense_tflite
    nodes, interpreter = _fully_connected_nodes(model_bytes)
    assert len(nodes) == 4
    weight_scales = [len(interpreter._get_tensor_details(op["inputs"][1], 0)  # pylint: disable=protected-access
                         ["quantization_parameters"]["scales"]) for op in nodes]
    if scheme == "per_channel":
        assert weight_scales == [32, 24, 16, 10]
    else:
        assert weight_scales == [1, 1, 1, 1]
    assert any(op["inputs"][2] == -1 for op in nodes), "the use_bias=False layer lost its bias"


@pytest.mark.parametrize("make_interpreter", [interpreters.tfq_litert, interpreters.tfq_tensorflow],
                         ids=["litert", "tf.lite"])
def test_every_fully_connected_delegated_and_exact(dense_tflite, make_interpreter):
    model_bytes, _ = dense_tflite
    nodes, reference = _fully_connected_nodes(model_bytes)
    interpreter, delegate = make_interpreter(model_bytes)
    inputs = np.random.default_rng(11).integers(-128, 128, size=(1000, INPUT_DEPTH), dtype=np.int8)
    # One batched invoke of all 1,000 (a resize and re-prepare), then single rows.
    expected = interpreters.run(reference, inputs)[0]
    actual = interpreters.run(interpreter, inputs)[0]
    total, claimed = delegate.last_claim()
    assert claimed == total == len(nodes), delegate.declined_nodes()
    np.testing.assert_array_equal(actual, expected)
    for row in range(0, 1000, 97):
        single = interpreters.run(interpreter, inputs[row:row + 1])[0]
        np.testing.assert_array_equal(single, expected[row:row + 1])
