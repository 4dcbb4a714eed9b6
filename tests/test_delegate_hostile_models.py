"""Models whose tensors break the int8 spec, for every kind of op the
delegate takes: each broken node is declined with a reason that names the
tensor and what is wrong; nothing crashes. The interpreter is built (the
delegate claims at construction) but never run: BUILTIN_REF itself may
abort on such nodes."""
import numpy as np
import pytest

import tfq
from tests import test_delegate_add_sub, test_delegate_conv, test_delegate_elementwise
from tests import test_delegate_mean, test_delegate_pool_pad, test_delegate_softmax
from tests import test_delegate_transpose_conv
from tfq import flatbuffer_edits


def _models():
    rng = np.random.default_rng(17)
    return {
        "CONV_2D": test_delegate_conv.conv_model(rng),
        "DEPTHWISE_CONV_2D": test_delegate_conv.conv_model(rng, depthwise=True),
        "TRANSPOSE_CONV": test_delegate_transpose_conv.transpose_conv_model(rng),
        "ADD": test_delegate_add_sub.add_sub_model("ADD", (1, 4), (1, 4)),
        "MUL": test_delegate_elementwise.mul_model((1, 4), (1, 4)),
        "MEAN": test_delegate_mean.mean_model((1, 4, 4, 2), [1, 2]),
        "MAX_POOL_2D": test_delegate_pool_pad.pool_model("MAX_POOL_2D", (1, 4, 4, 2)),
        "SOFTMAX": test_delegate_softmax.softmax_model((1, 10)),
        "TANH": test_delegate_elementwise.unary_model("TANH"),
        "CONCATENATION": test_delegate_elementwise.concatenation_model([(1, 2), (1, 3)], 1),
    }


MODELS = _models()
# The first int8 activation tensor each model's op reads.
ACTIVATION_INPUT = {name: 2 if name == "TRANSPOSE_CONV" else 0 for name in MODELS}

CORRUPTIONS = {  # name: (edit of the tensor's quantization, what the reason says)
    "zero scale": (lambda q: setattr(q, "scale", [0.0] * len(q.scale)), "must be finite and > 0"),
    "negative scale": (lambda q: setattr(q, "scale", [-0.5] * len(q.scale)),
                       "must be finite and > 0"),
    "NaN scale": (lambda q: setattr(q, "scale", [float("nan")] * len(q.scale)),
                  "must be finite and > 0"),
    "zero point out of range": (lambda q: setattr(q, "zeroPoint", [300] * len(q.zeroPoint)),
                                "outside [-128, 127]"),
}


def _declined_reasons(model_bytes):
    delegate = tfq.delegate.load()
    tfq.Interpreter(model_content=model_bytes, delegate=delegate)
    return delegate.declined_nodes()


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
@pytest.mark.parametrize("op", list(MODELS))
def test_broken_activation_quantization_is_declined(op, corruption):
    edit, reason = CORRUPTIONS[corruption]
    model = flatbuffer_edits.read(MODELS[op])
    edit(model.subgraphs[0].tensors[ACTIVATION_INPUT[op]].quantization)
    [line] = _declined_reasons(flatbuffer_edits.write(model))
    assert reason in line and op in line and "'t" in line, line


@pytest.mark.parametrize("op", ["CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV"])
def test_filter_without_data_is_declined(op):
    model = flatbuffer_edits.read(MODELS[op])
    subgraph = model.subgraphs[0]
    filter_index = subgraph.operators[0].inputs[1]
    model.buffers[subgraph.tensors[filter_index].buffer].data = None
    [line] = _declined_reasons(flatbuffer_edits.write(model))
    assert "filter tensor" in line and "not a constant" in line, line


@pytest.mark.parametrize("op", list(MODELS))
def test_required_input_omitted_is_declined(op):
    """Index -1 marks an omitted optional input; in a required slot it must
    not reach the kernel as a null tensor (found by tools/fuzz_delegate.py:
    an AVERAGE_POOL_2D whose input was -1 crashed the delegate)."""
    model = flatbuffer_edits.read(MODELS[op])
    operator = model.subgraphs[0].operators[0]
    slot = ACTIVATION_INPUT[op]
    operator.inputs = [-1 if i == slot else index for i, index in enumerate(operator.inputs)]
    [line] = _declined_reasons(flatbuffer_edits.write(model))
    assert f"input {slot} has an invalid tensor index -1" in line and op in line, line
