"""The tfq delegate's RESHAPE and SQUEEZE of int8 tensors == TFLite
BUILTIN_REF: the bytes unchanged, the shape as TFLite computes it (a -1
stretched, the legacy shape option, squeeze of listed or of all size-1
dimensions). A shape known only at run time stays on TFLite."""
import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

from tests import interpreters
from tests.test_delegate_fully_connected import assert_delegate_matches_reference, random_int8
from tests.tflite_builder import OneOpModel


def reshape_model(input_shape, requested, output_shape, *, as_tensor=True, shape_as_input=False):
    options = schema.ReshapeOptionsT()
    if not as_tensor:
        options.newShape = list(requested)
    model = OneOpModel("RESHAPE", options)
    x = model.add_input(list(input_shape), np.int8, scale=0.1, zero_point=4)
    inputs = [x]
    if shape_as_input:
        inputs.append(model.add_input([len(requested)], np.int32))
    elif as_tensor:
        inputs.append(model.add_constant(np.asarray(requested, np.int32)))
    model.add_output(list(output_shape), np.int8, scale=0.1, zero_point=4)
    return model.build(inputs)


@pytest.mark.parametrize("input_shape,requested,output_shape", [
    ((1, 7, 7, 8), (1, 392), (1, 392)),        # Flatten
    ((1, 7, 7, 8), (-1, 56), (7, 56)),
    ((2, 3, 4), (4, -1), (4, 6)),
    ((6,), (1, 1, 6), (1, 1, 6)),
    ((1, 1, 1, 10), (1, 10), (1, 10)),
], ids=str)
@pytest.mark.parametrize("as_tensor", [True, False], ids=["shape_tensor", "shape_option"])
def test_reshape(rng, input_shape, requested, output_shape, as_tensor):
    model = reshape_model(input_shape, requested, output_shape, as_tensor=as_tensor)
    assert_delegate_matches_reference(model, [random_int8(rng, input_shape)])


def test_reshape_with_a_shape_fed_at_run_time_stays_on_tflite():
    # A shape the delegate cannot know at Prepare (a model input here; the
    # shape arithmetic of a dynamic batch it computes itself).
    model = reshape_model((2, 6), (3, 4), (3, 4), shape_as_input=True)
    [reason] = interpreters.declined(model)
    assert "shape tensor is computed outside the delegate" in reason, reason


def squeeze_model(input_shape, dims, output_shape):
    options = schema.SqueezeOptionsT()
    options.squeezeDims = list(dims)
    model = OneOpModel("SQUEEZE", options)
    x = model.add_input(list(input_shape), np.int8, scale=0.1, zero_point=-3)
    model.add_output(list(output_shape), np.int8, scale=0.1, zero_point=-3)
    return model.build([x])


@pytest.mark.parametrize("input_shape,dims,output_shape", [
    ((1, 1, 1, 10), (1, 2), (1, 10)),
    ((1, 1, 1, 10), (), (10,)),
    ((2, 1, 3, 1), (-1,), (2, 1, 3)),
    ((1, 5), (0,), (5,)),
], ids=str)
def test_squeeze(rng, input_shape, dims, output_shape):
    model = squeeze_model(input_shape, dims, output_shape)
    assert_delegate_matches_reference(model, [random_int8(rng, input_shape)])
