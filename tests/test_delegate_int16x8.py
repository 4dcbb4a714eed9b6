"""The tfq delegate's int16x8 ops (16-bit activations, int8 weights) ==
TFLite BUILTIN_REF, element for element (issue 11; FULLY_CONNECTED, ADD and SUB so far).
Tolerance 0: the reference arithmetic is the spec."""
import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

import tfq
from tests.test_delegate_fully_connected import ACTIVATIONS, assert_delegate_matches_reference
from tests.tflite_builder import OneOpModel


def fully_connected_int16_model(rng, *, batch, input_depth, output_depth, activation="NONE",
                                per_channel=True, bias="int64", input_zero_point=0):
    """int16 input and output (zero point 0), int8 weights, int64 bias (or
    int32 with the options' quantized_bias_type saying so, or none); the
    output scale spreads results over the int16 range, some saturating."""
    options = schema.FullyConnectedOptionsT()
    options.fusedActivationFunction = ACTIVATIONS[activation]
    if bias == "int32":
        options.quantizedBiasType = schema.TensorType.INT32
    model = OneOpModel("FULLY_CONNECTED", options)
    input_scale = np.float32(rng.uniform(1e-4, 1e-3))
    x = model.add_input([batch, input_depth], np.int16, scale=input_scale,
                        zero_point=input_zero_point)
    weights = rng.integers(-127, 128, size=(output_depth, input_depth), dtype=np.int8)
    weight_scales = rng.uniform(0.001, 0.02, size=output_depth if per_channel else 1)
    w = model.add_constant(weights, scale=weight_scales.astype(np.float32),
                           zero_point=np.zeros(weight_scales.size, np.int64), axis=0)
    inputs = [x, w]
    if bias == "none":
        inputs.append(-1)
    else:
        dtype = np.int64 if bias == "int64" else np.int32
        bias_scale = input_scale * weight_scales.astype(np.float32)
        inputs.append(model.add_constant(
            rng.integers(-2_000_000, 2_000_000, size=output_depth).astype(dtype),
            scale=bias_scale, zero_point=np.zeros(bias_scale.size, np.int64)))
    # |acc| spreads ~ sqrt(depth) * 18900 * 73: map 2 sigma to ~20,000.
    multiplier = 20000 / (2 * np.sqrt(input_depth) * 18900 * 73)
    output_scale = np.float32(input_scale * weight_scales.mean() / multiplier)
    model.add_output([batch, output_depth], np.int16, scale=output_scale, zero_point=0)
    return model.build(inputs)


def random_int16(rng, shape):
    return rng.integers(-32768, 32768, size=shape, dtype=np.int16)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("per_channel", [True, False], ids=["per_channel", "per_tensor"])
@pytest.mark.parametrize("bias", ["int64", "int32", "none"])
def test_fully_connected(rng, activation, per_channel, bias):
    model = fully_connected_int16_model(rng, batch=3, input_depth=33, output_depth=17,
                                        activation=activation, per_channel=per_channel,
                                        bias=bias)
    assert_delegate_matches_reference(model, [random_int16(rng, (3, 33))])


@pytest.mark.parametrize("batch, input_depth, output_depth",
                         [(1, 1, 1), (1, 64, 10), (5, 300, 31), (2, 1024, 8)])
def test_fully_connected_shapes(rng, batch, input_depth, output_depth):
    model = fully_connected_int16_model(rng, batch=batch, input_depth=input_depth,
                                        output_depth=output_depth)
    assert_delegate_matches_reference(model, [random_int16(rng, (batch, input_depth))])


def test_fully_connected_with_a_nonzero_zero_point_is_declined(rng):
    model = fully_connected_int16_model(rng, batch=1, input_depth=8, output_depth=4,
                                        input_zero_point=3)
    delegate = tfq.delegate.load()
    try:
        tfq.Interpreter(model_content=model, delegate=delegate)
    except (RuntimeError, ValueError):
        pass  # TFLite refuses it too, at its own prepare
    assert delegate.last_claim() == (1, 0)
    [line] = delegate.declined_nodes()
    assert "zero point 3 outside [0, 0]" in line, line  # 16-bit activations are symmetric


def add_sub_int16_model(op, shape1, shape2, *, scales=(0.0003, 0.0005, 0.0007),
                        activation="NONE", pot_scale_int16=True):
    options = schema.AddOptionsT() if op == "ADD" else schema.SubOptionsT()
    options.fusedActivationFunction = ACTIVATIONS[activation]
    options.potScaleInt16 = pot_scale_int16
    model = OneOpModel(op, options)
    a = model.add_input(list(shape1), np.int16, scale=scales[0], zero_point=0)
    b = model.add_input(list(shape2), np.int16, scale=scales[1], zero_point=0)
    out_shape = list(np.broadcast_shapes(tuple(shape1), tuple(shape2)))
    model.add_output(out_shape, np.int16, scale=scales[2], zero_point=0)
    return model.build([a, b])


@pytest.mark.parametrize("op", ["ADD", "SUB"])
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("shapes", [((2, 5, 5, 7), (2, 5, 5, 7)), ((1, 4, 4, 8), (8,)),
                                    ((2, 1, 3), (1, 4, 1))], ids=["same", "channel", "both"])
def test_add_sub(rng, op, activation, shapes):
    # Sums of two full-range inputs overflow the output scale: some saturate.
    model = add_sub_int16_model(op, *shapes, activation=activation)
    assert_delegate_matches_reference(model, [random_int16(rng, shapes[0]),
                                              random_int16(rng, shapes[1])])


def test_add_with_power_of_two_scales(rng):
    """pot_scale_int16 with power-of-two scales takes TFLite's LSTM-style
    fixed-point path: declined. Without the flag, the general path: claimed."""
    scales = (2.0 ** -12, 2.0 ** -11, 2.0 ** -10)
    shape = (1, 6, 6, 4)
    delegate = tfq.delegate.load()
    tfq.Interpreter(model_content=add_sub_int16_model("ADD", shape, shape, scales=scales),
                    delegate=delegate)
    [line] = delegate.declined_nodes()
    assert "pot_scale_int16" in line, line
    model = add_sub_int16_model("ADD", shape, shape, scales=scales, pot_scale_int16=False)
    assert_delegate_matches_reference(model, [random_int16(rng, shape), random_int16(rng, shape)])
