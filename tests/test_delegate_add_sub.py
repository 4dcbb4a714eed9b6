"""The tfq delegate's int8 ADD and SUB == TFLite BUILTIN_REF, element for
element: equal shapes and numpy broadcasting up to rank 6, scales that
differ by orders of magnitude either way, zero points -128 and 127, every
fused activation. Tolerance 0."""
import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

import tfq
from tests.test_delegate_fully_connected import (ACTIVATIONS, assert_delegate_matches_reference,
                                                 random_int8)
from tests.tflite_builder import OneOpModel


def add_sub_model(op, shape1, shape2, *, scales=(0.02, 0.03, 0.04), zero_points=(0, 0, 0),
                  activation="NONE"):
    options = schema.AddOptionsT() if op == "ADD" else schema.SubOptionsT()
    options.fusedActivationFunction = ACTIVATIONS[activation]
    model = OneOpModel(op, options)
    a = model.add_input(list(shape1), np.int8, scale=scales[0], zero_point=zero_points[0])
    b = model.add_input(list(shape2), np.int8, scale=scales[1], zero_point=zero_points[1])
    out_shape = list(np.broadcast_shapes(tuple(shape1), tuple(shape2)))
    model.add_output(out_shape, np.int8, scale=scales[2], zero_point=zero_points[2])
    return model.build([a, b])


OPS = ["ADD", "SUB"]


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("zero_points", [(0, 0, 0), (-128, 127, -128), (127, -128, 127),
                                         (5, -7, 3)], ids=lambda z: "zp" + "_".join(map(str, z)))
def test_activations_and_zero_points(rng, op, activation, zero_points):
    shape = (2, 5, 5, 7)
    model = add_sub_model(op, shape, shape, zero_points=zero_points, activation=activation)
    assert_delegate_matches_reference(model, [random_int8(rng, shape), random_int8(rng, shape)])


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("scales", [(0.02, 0.02, 0.02), (0.5, 0.001, 0.3), (0.001, 0.5, 0.01),
                                    (0.01, 0.012, 1e-4), (3.0, 2.0, 7.0)],
                         ids=lambda s: "s" + "_".join(map(str, s)))
def test_scales(rng, op, scales):
    shape = (1, 9, 8, 16)
    model = add_sub_model(op, shape, shape, scales=scales, zero_points=(3, -4, 1))
    assert_delegate_matches_reference(model, [random_int8(rng, shape), random_int8(rng, shape)])


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("shape1,shape2", [
    ((1, 4, 4, 8), (8,)),            # per-channel constant-like
    ((1, 4, 4, 8), (1, 1, 1, 8)),
    ((2, 1, 5, 3), (1, 4, 1, 3)),    # both sides stretch
    ((3,), (2, 3)),
    ((1,), (2, 3, 4)),               # a scalar-like operand
    ((2, 1, 3, 1, 2, 1), (1, 2, 1, 3, 1, 2)),  # rank 6
])
def test_broadcasting(rng, op, shape1, shape2):
    model = add_sub_model(op, shape1, shape2, scales=(0.03, 0.05, 0.06), zero_points=(-2, 9, 4))
    assert_delegate_matches_reference(model, [random_int8(rng, shape1), random_int8(rng, shape2)])


def test_output_scale_too_small_is_declined():
    """TFLite aborts on an output multiplier >= 1; the delegate declines first."""
    model = add_sub_model("ADD", (1, 4), (1, 4), scales=(0.5, 0.5, 1e-7))
    delegate = tfq.delegate.load()
    interpreter = tfq.Interpreter(model_content=model, delegate=delegate)
    assert delegate.last_claim() == (1, 0)
    [declined] = delegate.declined_nodes()
    assert "ADD output scale" in declined and "too small" in declined, declined
    del interpreter  # never allocated: TFLite's own prepare would abort the process
