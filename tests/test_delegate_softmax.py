"""The tfq delegate's int8 SOFTMAX == TFLite BUILTIN_REF, element for
element: gemmlowp's fixed-point exp and reciprocal, for input scales and
betas from sharp to flat, depths from 1 to 1000 classes (including rows
whose exps sum past 2^28), rank 2 and 4, and degenerate rows. Tolerance 0."""
import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

from tests import interpreters
from tests.test_delegate_fully_connected import assert_delegate_matches_reference, random_int8
from tests.tflite_builder import OneOpModel


def softmax_model(shape, *, input_scale=0.1, input_zero_point=0, beta=1.0,
                  output_quantization=(1 / 256, -128), dtype=np.int8):
    options = schema.SoftmaxOptionsT()
    options.beta = beta
    model = OneOpModel("SOFTMAX", options)
    x = model.add_input(list(shape), dtype, scale=input_scale, zero_point=input_zero_point)
    model.add_output(list(shape), dtype, scale=output_quantization[0],
                     zero_point=output_quantization[1])
    return model.build([x])


@pytest.mark.parametrize("input_scale", [0.01, 0.05, 0.1, 0.3, 1.0])
@pytest.mark.parametrize("beta", [1.0, 0.5, 2.0])
def test_scales_and_betas(rng, input_scale, beta):
    shape = (16, 10)
    model = softmax_model(shape, input_scale=input_scale, beta=beta, input_zero_point=-7)
    assert_delegate_matches_reference(model, [random_int8(rng, shape)])


@pytest.mark.parametrize("depth", [1, 2, 3, 16, 17, 100, 300, 511, 1000])
def test_depths(rng, depth):
    shape = (4, depth)
    model = softmax_model(shape, input_scale=0.05)
    x = random_int8(rng, shape)
    if depth < 512:  # see the test below for why not wider
        x[1] = 0  # a flat row: every exp is 1, the sum is depth * 2^19
        x[2] = rng.integers(120, 128, size=depth)  # many values near the max
    assert_delegate_matches_reference(model, [x])


@pytest.mark.parametrize("depth", [512, 1000, 4095])
def test_rows_whose_exps_sum_past_2_to_28_do_not_crash(depth):
    """512 or more values at a row's max make the Q12.19 sum reach 2^28, and
    the final shift exceeds 31 bits: BUILTIN_REF aborts the process there
    (a TFLITE_CHECK), so it cannot be the oracle. The delegate rounds the
    wide shift exactly; each output is 1 / depth, i.e. -128 + round(256 /
    depth), to within the fixed point's last bit."""
    interpreter, _ = interpreters.tfq_litert(softmax_model((2, depth), input_scale=0.05))
    x = np.zeros((2, depth), np.int8)
    x[1, : depth // 2] = 127
    outputs = interpreters.run(interpreter, x)[0].astype(int)
    np.testing.assert_allclose(outputs[0], -128 + round(256 / depth), atol=1)
    expected_max = -128 + 256 * np.exp(0) / (depth // 2 + (depth - depth // 2) * np.exp(-6.35))
    np.testing.assert_allclose(outputs[1, : depth // 2], round(expected_max), atol=1)


def test_rank4_rows(rng):
    shape = (2, 3, 4, 21)
    model = softmax_model(shape, input_scale=0.08, input_zero_point=12)
    assert_delegate_matches_reference(model, [random_int8(rng, shape)])


@pytest.mark.parametrize("output_quantization,reason", [
    ((1 / 128, -128), "scale 1/256 and zero point -128"),
    ((1 / 256, 0), "scale 1/256 and zero point -128")])
def test_other_output_quantization_is_declined(output_quantization, reason):
    [declined] = interpreters.declined(softmax_model((1, 10),
                                                     output_quantization=output_quantization))
    assert reason in declined, declined


def test_input_scale_too_small_is_declined_not_aborted():
    """BUILTIN_REF aborts the process on such a node (see the notes); the
    delegate declines it, and the interpreter is never run here."""
    import tfq
    delegate = tfq.delegate.load()
    tfq.Interpreter(model_content=softmax_model((1, 10), input_scale=1e-9), delegate=delegate)
    [declined] = delegate.declined_nodes()
    assert "too small for the fixed-point softmax" in declined, declined
