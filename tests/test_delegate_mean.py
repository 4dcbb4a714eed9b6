"""The tfq delegate's int8 MEAN == TFLite BUILTIN_REF, element for element:
spatial means (GlobalAveragePooling) with keep_dims both ways, other and
negative axes, reduced counts that are and are not powers of two, input and
output scales equal and not, zero points -128 and 127. Tolerance 0."""
import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

from tests import interpreters
from tests.test_delegate_fully_connected import assert_delegate_matches_reference, random_int8
from tests.tflite_builder import OneOpModel


def mean_model(shape, axes, *, keep_dims=True, scales=(0.05, 0.05), zero_points=(0, 0),
               dtype=np.int8):
    options = schema.ReducerOptionsT()
    options.keepDims = keep_dims
    model = OneOpModel("MEAN", options)
    x = model.add_input(list(shape), dtype, scale=scales[0], zero_point=zero_points[0])
    axis = model.add_constant(np.asarray(axes, np.int32))
    rank = len(shape)
    resolved = {a % rank for a in axes}
    out_shape = [1 if d in resolved else n for d, n in enumerate(shape)
                 if keep_dims or d not in resolved]
    model.add_output(out_shape, dtype, scale=scales[1], zero_point=zero_points[1])
    return model.build([x, axis])


@pytest.mark.parametrize("keep_dims", [True, False])
@pytest.mark.parametrize("shape", [(1, 7, 7, 32), (2, 8, 8, 3), (1, 1, 1, 5), (3, 13, 11, 17)])
@pytest.mark.parametrize("scales", [(0.05, 0.05), (0.05, 0.01), (0.01, 0.3), (0.02, 0.019)],
                         ids=lambda s: f"s{s[0]}_{s[1]}")
def test_spatial_mean(rng, keep_dims, shape, scales):
    model = mean_model(shape, [1, 2], keep_dims=keep_dims, scales=scales, zero_points=(-5, 7))
    assert_delegate_matches_reference(model, [random_int8(rng, shape)])


@pytest.mark.parametrize("zero_points", [(-128, 127), (127, -128), (0, 0)],
                         ids=lambda z: f"zp{z[0]}_{z[1]}")
def test_zero_points(rng, zero_points):
    shape = (2, 5, 6, 9)
    model = mean_model(shape, [1, 2], scales=(0.03, 0.02), zero_points=zero_points)
    assert_delegate_matches_reference(model, [random_int8(rng, shape)])


@pytest.mark.parametrize("axes", [[3], [-1], [0, 3], [1], [-3, -2], [0, 1, 2, 3], [2, 2]],
                         ids=str)
@pytest.mark.parametrize("keep_dims", [True, False])
def test_other_axes(rng, axes, keep_dims):
    shape = (2, 6, 5, 4)
    model = mean_model(shape, axes, keep_dims=keep_dims, scales=(0.04, 0.03), zero_points=(3, -2))
    assert_delegate_matches_reference(model, [random_int8(rng, shape)])


def test_out_of_range_axis_is_declined():
    [reason] = interpreters.declined(mean_model((1, 4, 4, 2), [7], keep_dims=True))
    assert "MEAN axis 7 is out of range" in reason, reason
