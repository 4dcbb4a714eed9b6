"""The tfq delegate's int8 elementwise ops == TFLite BUILTIN_REF, element for
element. Ops of one int8 input are checked on all 256 input values at once,
for several input/output quantizations each: RELU, RELU6, RELU_N1_TO_1,
LEAKY_RELU, LOGISTIC, TANH, HARD_SWISH, QUANTIZE (int8 -> int8 and float ->
int8), DEQUANTIZE. Then MUL with broadcasting and CONCATENATION. Tolerance 0."""
import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

from tests import interpreters
from tests.test_delegate_fully_connected import (ACTIVATIONS, assert_delegate_matches_reference,
                                                 random_int8)
from tests.tflite_builder import OneOpModel

ALL_INT8 = np.arange(-128, 128, dtype=np.int8).reshape(2, 8, 16)


def unary_model(op, *, options=None, input_quantization=(0.05, 0), output_quantization=(0.05, 0),
                input_dtype=np.int8, output_dtype=np.int8):
    model = OneOpModel(op, options)
    in_scale, in_zp = input_quantization if input_dtype == np.int8 else (None, 0)
    out_scale, out_zp = output_quantization if output_dtype == np.int8 else (None, 0)
    x = model.add_input(list(ALL_INT8.shape), input_dtype, scale=in_scale, zero_point=in_zp)
    model.add_output(list(ALL_INT8.shape), output_dtype, scale=out_scale, zero_point=out_zp)
    return model.build([x])


QUANTIZATIONS = {  # (input (scale, zp), output (scale, zp))
    "same": ((0.05, 0), (0.05, 0)),
    "narrower_out": ((0.1, -20), (0.02, 5)),
    "wider_out": ((0.01, 100), (0.08, -128)),
    "extreme_zp": ((0.03, -128), (0.03, 127)),
}


@pytest.mark.parametrize("op", ["RELU", "RELU6", "RELU_N1_TO_1", "TANH", "HARD_SWISH"])
@pytest.mark.parametrize("quantization", list(QUANTIZATIONS))
def test_activation_on_every_int8_value(op, quantization):
    input_q, output_q = QUANTIZATIONS[quantization]
    options = schema.HardSwishOptionsT() if op == "HARD_SWISH" else None
    model = unary_model(op, options=options, input_quantization=input_q,
                        output_quantization=output_q)
    assert_delegate_matches_reference(model, [ALL_INT8])


@pytest.mark.parametrize("quantization", [((8.296403564145294e-09, 0), (8.069769741325672e-09, 0)),
                                          ((7.8437603079351e-09, -1), (7.843448557309785e-09, -1)),
                                          ((3e-6, 5), (1.5e-6, 5))])
def test_hard_swish_at_tiny_scales(quantization):
    """Scales of a randomly initialised MobileNetV3Small's late blocks: the
    relu6(x + 3) / 6 branch then divides by 2^16 or more, where TFLite's
    int16 rounding division (gemmlowp's, its mask an int16) gives -1 / 1, not
    0: the negative inputs came out 1 LSB off before tfq reproduced it."""
    input_q, output_q = quantization
    model = unary_model("HARD_SWISH", options=schema.HardSwishOptionsT(),
                        input_quantization=input_q, output_quantization=output_q)
    assert_delegate_matches_reference(model, [ALL_INT8])


@pytest.mark.parametrize("input_quantization", [(0.05, 0), (0.1, -20), (0.02, 127), (0.5, 3)])
def test_logistic_on_every_int8_value(input_quantization):
    model = unary_model("LOGISTIC", input_quantization=input_quantization,
                        output_quantization=(1 / 256, -128))
    assert_delegate_matches_reference(model, [ALL_INT8])


@pytest.mark.parametrize("alpha", [0.0, 0.01, 0.2, 1.0, 3.0])
@pytest.mark.parametrize("quantization", ["same", "narrower_out", "wider_out"])
def test_leaky_relu_on_every_int8_value(alpha, quantization):
    options = schema.LeakyReluOptionsT()
    options.alpha = alpha
    input_q, output_q = QUANTIZATIONS[quantization]
    model = unary_model("LEAKY_RELU", options=options, input_quantization=input_q,
                        output_quantization=output_q)
    assert_delegate_matches_reference(model, [ALL_INT8])


@pytest.mark.parametrize("quantization", list(QUANTIZATIONS))
def test_requantize_on_every_int8_value(quantization):
    input_q, output_q = QUANTIZATIONS[quantization]
    model = unary_model("QUANTIZE", options=schema.QuantizeOptionsT(),
                        input_quantization=input_q, output_quantization=output_q)
    assert_delegate_matches_reference(model, [ALL_INT8])


@pytest.mark.parametrize("output_quantization", [(0.05, 0), (0.013, -128), (0.7, 127)])
def test_quantize_float_input(rng, output_quantization):
    """Includes exact .5 ties of x / scale (rounded away from zero) and
    values far outside the int8 range (clamped)."""
    scale, _ = output_quantization
    ties = (np.arange(-40, 40) + 0.5).astype(np.float32) * np.float32(scale)
    x = np.concatenate([ties, rng.normal(0, 200 * scale, ALL_INT8.size - ties.size)])
    x = x.astype(np.float32).reshape(ALL_INT8.shape)
    model = unary_model("QUANTIZE", options=schema.QuantizeOptionsT(), input_dtype=np.float32,
                        output_quantization=output_quantization)
    assert_delegate_matches_reference(model, [x])


@pytest.mark.parametrize("input_quantization", [(0.05, 0), (0.0131, -128), (3.7, 127)])
def test_dequantize(input_quantization):
    model = unary_model("DEQUANTIZE", options=schema.DequantizeOptionsT(),
                        input_quantization=input_quantization, output_dtype=np.float32)
    assert_delegate_matches_reference(model, [ALL_INT8])


def test_logistic_with_a_non_standard_output_scale_is_declined():
    model = unary_model("LOGISTIC", output_quantization=(1 / 128, 0))
    [reason] = interpreters.declined(model)
    assert "output scale is not 1/256" in reason, reason


def mul_model(shape1, shape2, *, scales=(0.05, 0.04, 0.03), zero_points=(0, 0, 0),
              activation="NONE", dtype=np.int8):
    options = schema.MulOptionsT()
    options.fusedActivationFunction = ACTIVATIONS[activation]
    model = OneOpModel("MUL", options)
    a = model.add_input(list(shape1), dtype, scale=scales[0], zero_point=zero_points[0])
    b = model.add_input(list(shape2), dtype, scale=scales[1], zero_point=zero_points[1])
    out_shape = list(np.broadcast_shapes(tuple(shape1), tuple(shape2)))
    model.add_output(out_shape, dtype, scale=scales[2], zero_point=zero_points[2])
    return model.build([a, b])


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("scales", [(0.05, 0.04, 0.03), (0.5, 0.3, 0.01), (0.01, 0.02, 2.0)],
                         ids=str)
@pytest.mark.parametrize("zero_points", [(0, 0, 0), (-128, 127, -128), (7, -3, 12)], ids=str)
def test_mul(rng, activation, scales, zero_points):
    shape = (2, 6, 5, 8)
    model = mul_model(shape, shape, scales=scales, zero_points=zero_points,
                      activation=activation)
    assert_delegate_matches_reference(model, [random_int8(rng, shape), random_int8(rng, shape)])


@pytest.mark.parametrize("shape1,shape2", [((1, 4, 4, 8), (1, 1, 1, 8)), ((2, 3, 1), (1, 5)),
                                           ((1,), (3, 2))], ids=str)
def test_mul_broadcasting(rng, shape1, shape2):
    model = mul_model(shape1, shape2, zero_points=(3, -9, 2))
    assert_delegate_matches_reference(model, [random_int8(rng, shape1), random_int8(rng, shape2)])


def concatenation_model(shapes, axis, *, output_quantization=(0.05, 3), dtype=np.int8):
    options = schema.ConcatenationOptionsT()
    options.axis = axis
    model = OneOpModel("CONCATENATION", options)
    zero_point = 0 if dtype == np.int16 else 3  # int16 is symmetric
    inputs = [model.add_input(list(shape), dtype, scale=0.05, zero_point=zero_point)
              for shape in shapes]
    out_shape = list(np.concatenate([np.zeros(s) for s in shapes], axis=axis).shape)
    model.add_output(out_shape, dtype, scale=output_quantization[0],
                     zero_point=output_quantization[1])
    return model.build(inputs)


@pytest.mark.parametrize("shapes,axis", [
    ([(1, 4, 4, 3), (1, 4, 4, 5)], 3), ([(1, 4, 4, 3), (1, 4, 4, 5)], -1),
    ([(2, 3, 4), (2, 1, 4), (2, 5, 4)], 1), ([(1, 2), (3, 2)], 0), ([(6,)], 0)], ids=str)
def test_concatenation(rng, shapes, axis):
    model = concatenation_model(shapes, axis)
    assert_delegate_matches_reference(model, [random_int8(rng, shape) for shape in shapes])


def test_concatenation_with_rescaling_is_declined():
    model = concatenation_model([(1, 2, 2, 3), (1, 2, 2, 3)], 3, output_quantization=(0.1, 3))
    [reason] = interpreters.declined(model)
    assert "quantized differently from the output" in reason, reason
