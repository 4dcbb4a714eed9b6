"""Reading a functional Keras graph (Keras 3 or tf_keras) from its symbolic
tensors: which layer made a tensor, and what that layer was called on."""
from __future__ import annotations

import tensorflow as tf


def node_inputs(node) -> list:
    """A node's input tensors as a flat list (tf_keras gives a bare tensor for one input)."""
    return tf.nest.flatten(node.input_tensors)


def producer(tensor):
    """The layer that made a symbolic tensor (Keras 3: .operation, tf_keras: .layer)."""
    history = tensor._keras_history  # pylint: disable=protected-access
    return getattr(history, "operation", None) or history.layer


def producer_first_input(tensor):
    """The first input of the call that made a symbolic tensor."""
    history = tensor._keras_history  # pylint: disable=protected-access
    nodes = producer(tensor)._inbound_nodes  # pylint: disable=protected-access
    return node_inputs(nodes[history.node_index])[0]
