"""Small helpers that ask the real TFLiteConverter which quantization
parameters it writes, so tests can compare tfq's arithmetic with it."""
import warnings

import keras
import numpy as np
import tensorflow as tf


def _interpreter(tflite_bytes):
    from ai_edge_litert.interpreter import Interpreter
    return Interpreter(model_content=tflite_bytes)


def calibrated_input_params(ranges, *, int16=False):
    """Converts a model with one input per (min, max) range, calibrated on data
    that reaches exactly those bounds; returns the (scale, zero_point) the
    converter wrote for each input."""
    inputs = [keras.Input((2,), name=f"in{i}") for i in range(len(ranges))]
    outputs = [keras.layers.Dense(1)(x) for x in inputs]
    model = keras.Model(inputs, keras.layers.Add()(outputs))

    def representative_dataset():
        for step in range(2):
            yield {f"in{i}": np.array([[lo if step == 0 else hi, (lo + hi) / 2]], np.float32)
                   for i, (lo, hi) in enumerate(ranges)}

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative_dataset
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
        if int16 else tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int16 if int16 else tf.int8
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interpreter = _interpreter(converter.convert())
    return _params_by_input_name(interpreter, len(ranges))


def fake_quant_input_params(ranges):
    """Converts a graph whose inputs go through fake_quant_with_min_max_vars
    with the given ranges (the QAT path); returns each input's parameters."""
    count = len(ranges)

    class FakeQuantModule(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32, name=f"in{i}")
                                      for i in range(count)])
        def serve(self, *xs):
            total = 0.0
            for x, (lo, hi) in zip(xs, ranges):
                total += tf.quantization.fake_quant_with_min_max_vars(x, float(lo), float(hi))
            return tf.quantization.fake_quant_with_min_max_vars(total, -8.0, 8.0)

    module = FakeQuantModule()
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.serve.get_concrete_function()], module)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interpreter = _interpreter(converter.convert())
    return _params_by_input_name(interpreter, count)


def _params_by_input_name(interpreter, count):
    details = interpreter.get_signature_runner().get_input_details()
    params = []
    for i in range(count):
        quantization = details[f"in{i}"]["quantization_parameters"]
        params.append((np.float32(quantization["scales"][0]), int(quantization["zero_points"][0])))
    return params


def converted_weight_params(kernel_kind, kernel, *, per_tensor_dense=False):
    """Converts one Conv2D / DepthwiseConv2D / Dense layer with the given
    kernel (Keras layout) and returns (scales, zero_points) of its weights."""
    rng = np.random.default_rng(0)
    if kernel_kind == "conv":
        layer = keras.layers.Conv2D(kernel.shape[-1], kernel.shape[:2], use_bias=False)
        input_shape = (6, 6, kernel.shape[2])
    elif kernel_kind == "depthwise":
        layer = keras.layers.DepthwiseConv2D(kernel.shape[:2], use_bias=False)
        input_shape = (6, 6, kernel.shape[2])
    else:
        layer = keras.layers.Dense(kernel.shape[1], use_bias=False)
        input_shape = (kernel.shape[0],)
    model = keras.Sequential([keras.Input(input_shape), layer])
    layer.set_weights([kernel])

    def representative_dataset():
        for _ in range(4):
            yield [rng.normal(size=(1,) + input_shape).astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative_dataset
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if per_tensor_dense:
        converter._experimental_disable_per_channel_quantization_for_dense_layers = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interpreter = _interpreter(converter.convert())
    weighted_ops = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
    for op in interpreter._get_ops_details():  # pylint: disable=protected-access
        if op["op_name"] in weighted_ops:
            weights = interpreter._get_tensor_details(op["inputs"][1], 0)  # pylint: disable=protected-access
            quantization = weights["quantization_parameters"]
            return quantization["scales"].astype(np.float32), quantization["zero_points"]
    raise AssertionError("no CONV_2D, DEPTHWISE_CONV_2D or FULLY_CONNECTED in the converted model")
