"""A model with two subgraphs (two signatures, as `tf.lite` writes for a
SavedModel with two signatures): TFLite hands every subgraph to the
delegate, which validates and claims each on its own tensors. Both
signatures run exactly as under BUILTIN_REF."""
import numpy as np
from ai_edge_litert import schema_py_generated as schema

from tests import interpreters
from tests.test_delegate_conv import conv_model
from tfq import flatbuffer_edits


def _signature(key, subgraph_index, subgraph):
    signature = schema.SignatureDefT()
    signature.signatureKey = key
    signature.subgraphIndex = subgraph_index
    signature.inputs, signature.outputs = [], []
    for names, indices in ((signature.inputs, subgraph.inputs),
                           (signature.outputs, subgraph.outputs)):
        for position, index in enumerate(indices):
            tensor_map = schema.TensorMapT()
            tensor_map.name = f"{'in' if names is signature.inputs else 'out'}{position}"
            tensor_map.tensorIndex = index
            names.append(tensor_map)
    return signature


def two_subgraph_model(rng):
    first = flatbuffer_edits.read(conv_model(rng, input_shape=(1, 6, 6, 4), output_depth=8))
    second = flatbuffer_edits.read(conv_model(rng, depthwise=True, input_shape=(1, 5, 5, 3),
                                              output_depth=6, activation="RELU6"))
    # The second model's subgraph joins the first, its buffers appended.
    offset = len(first.buffers)
    first.buffers.extend(second.buffers)
    subgraph = second.subgraphs[0]
    for tensor in subgraph.tensors:
        tensor.buffer += offset
    code = second.operatorCodes[subgraph.operators[0].opcodeIndex]
    first.operatorCodes.append(code)
    subgraph.operators[0].opcodeIndex = len(first.operatorCodes) - 1
    first.subgraphs.append(subgraph)
    first.signatureDefs = [_signature("conv", 0, first.subgraphs[0]),
                           _signature("depthwise", 1, subgraph)]
    return flatbuffer_edits.write(first)


def test_both_subgraphs_run_exactly(rng):
    model = two_subgraph_model(rng)
    interpreter, delegate = interpreters.tfq_litert(model)
    reference = interpreters.reference(model)
    for key, shape in (("conv", (1, 6, 6, 4)), ("depthwise", (1, 5, 5, 3))):
        x = rng.integers(-128, 128, size=shape, dtype=np.int8)
        actual = interpreter.get_signature_runner(key)(in0=x)["out0"]
        expected = reference.get_signature_runner(key)(in0=x)["out0"]
        np.testing.assert_array_equal(actual, expected)
    assert delegate.declined_nodes() == [] and delegate.last_claim() == (1, 1)
