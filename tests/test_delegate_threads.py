"""The delegate's num_threads: ops that split their loops across the
partition's thread pool (CONV_2D over blocks of output pixels, or of output
channels for small images on AMX; FULLY_CONNECTED over output channels;
depthwise over output rows; same-shape ADD and SUB over elements) give
BUILTIN_REF's output exactly at any thread count, including more threads
than rows or pixels, odd splits and batches."""
import functools

import numpy as np
import pytest

from tests import interpreters
from tests.test_delegate_add_sub import add_sub_model
from tests.test_delegate_conv import conv_model
from tests.test_delegate_fully_connected import (assert_delegate_matches_reference,
                                                 fully_connected_model, random_int8)


@pytest.mark.parametrize("num_threads", [2, 3, 7])
@pytest.mark.parametrize("depthwise", [False, True], ids=["conv", "depthwise"])
@pytest.mark.parametrize("input_shape", [(1, 1, 1, 8), (1, 3, 5, 8), (2, 9, 7, 16), (3, 17, 13, 8)],
                         ids=lambda shape: "x".join(map(str, shape)))
def test_threads_match_reference(rng, num_threads, depthwise, input_shape):
    model = conv_model(rng, depthwise=depthwise, input_shape=input_shape,
                       output_depth=input_shape[-1], strides=(1, 2), input_zero_point=-5)
    make = functools.partial(interpreters.tfq_litert, num_threads=num_threads)
    assert_delegate_matches_reference(model, [random_int8(rng, input_shape)],
                                      make_interpreter=make)


@pytest.mark.parametrize("num_threads", [2, 3])
@pytest.mark.parametrize("input_shape", [(1, 7, 7, 64), (2, 3, 5, 40)],
                         ids=lambda shape: "x".join(map(str, shape)))
def test_small_image_channel_split_matches_reference(rng, num_threads, input_shape):
    """A small image with many output channels (ResNet50's last stages): on
    AMX the threads split the channels in blocks of 32 instead of the pixels;
    200 channels leave a ragged last block."""
    model = conv_model(rng, depthwise=False, input_shape=input_shape, output_depth=200,
                       strides=(1, 1), input_zero_point=3)
    make = functools.partial(interpreters.tfq_litert, num_threads=num_threads)
    assert_delegate_matches_reference(model, [random_int8(rng, input_shape)],
                                      make_interpreter=make)


@pytest.mark.parametrize("num_threads", [2, 3])
@pytest.mark.parametrize("batch,output_depth", [(1, 37), (3, 100), (2, 5)])
def test_fully_connected_channels_split_matches_reference(rng, num_threads, batch, output_depth):
    """FULLY_CONNECTED splits its output channels (blocks of 16) across
    threads: 37 and 100 leave ragged last blocks, 5 fits one."""
    model = fully_connected_model(rng, batch=batch, input_depth=70, output_depth=output_depth)
    make = functools.partial(interpreters.tfq_litert, num_threads=num_threads)
    assert_delegate_matches_reference(model, [random_int8(rng, (batch, 70))],
                                      make_interpreter=make)


def test_interpreter_threads_reach_the_delegate(rng):
    """Delegate num_threads 0 (the default) follows the interpreter's."""
    model = conv_model(rng, input_shape=(1, 16, 16, 16), output_depth=16)
    x = random_int8(rng, (1, 16, 16, 16))
    expected = interpreters.run(interpreters.reference(model), x)[0]
    import tfq
    for threads in (1, 2):
        interpreter = tfq.Interpreter(model_content=model, num_threads=threads,
                                      delegate={"claim_all": True})
        for _ in range(3):  # the pool is reused across invokes
            np.testing.assert_array_equal(interpreters.run(interpreter, x)[0], expected)


@pytest.mark.parametrize("num_threads", [2, 3])
@pytest.mark.parametrize("shape", [(1, 3, 5, 7), (2, 9, 11, 33)],
                         ids=lambda shape: "x".join(map(str, shape)))
def test_add_split_across_threads_matches_reference(rng, num_threads, shape):
    """Same-shape ADD splits its elements in whole cache lines (64) across
    threads; 105 and 6534 elements leave ragged last chunks."""
    model = add_sub_model("ADD", list(shape), list(shape), zero_points=(3, -7, 5))
    make = functools.partial(interpreters.tfq_litert, num_threads=num_threads)
    assert_delegate_matches_reference(model, [random_int8(rng, shape), random_int8(rng, shape)],
                                      make_interpreter=make)
