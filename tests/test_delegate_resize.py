"""The tfq delegate's int8 RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR ==
TFLite BUILTIN_REF, element for element: up- and down-sampling by integer
and fractional factors, align_corners and half_pixel_centers. Tolerance 0."""
import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

from tests.test_delegate_fully_connected import assert_delegate_matches_reference, random_int8
from tests.tflite_builder import OneOpModel


def resize_model(op, input_shape, size, *, align_corners=False, half_pixel_centers=False):
    options = (schema.ResizeBilinearOptionsT() if op == "RESIZE_BILINEAR"
               else schema.ResizeNearestNeighborOptionsT())
    options.alignCorners = align_corners
    options.halfPixelCenters = half_pixel_centers
    model = OneOpModel(op, options)
    x = model.add_input(list(input_shape), np.int8, scale=0.05, zero_point=-6)
    s = model.add_constant(np.asarray(size, np.int32))
    model.add_output([input_shape[0], *size, input_shape[3]], np.int8, scale=0.05, zero_point=-6)
    return model.build([x, s])


MODES = {"default": (False, False), "align_corners": (True, False),
         "half_pixel_centers": (False, True)}


@pytest.mark.parametrize("op", ["RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"])
@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("input_hw,size", [((4, 4), (8, 8)), ((5, 3), (11, 7)), ((8, 8), (3, 5)),
                                           ((1, 1), (4, 3)), ((6, 6), (6, 6)), ((3, 7), (1, 1))],
                         ids=str)
def test_resize(rng, op, mode, input_hw, size):
    align_corners, half_pixel_centers = MODES[mode]
    shape = (2, *input_hw, 3)
    model = resize_model(op, shape, size, align_corners=align_corners,
                         half_pixel_centers=half_pixel_centers)
    assert_delegate_matches_reference(model, [random_int8(rng, shape)])
