"""Calibration passes: batches of model inputs through a quantized model in
float, every wrapper's activation reduced to a few small tensors (a
histogram, min/max, errors) so that activations are never kept.

- One replica: the forward and the reductions run in one tf.function, traced
  once per model and kind of reduction and reused by later tfq.calibrate
  calls; only the reductions come back to Python.
- Several replicas on this worker (MirroredStrategy): each batch is split
  across the replicas and run eagerly; each tensor's replica parts are joined
  in replica order, so what is reduced is the whole batch's activation.
"""
from __future__ import annotations

import contextlib
import threading
import weakref
from typing import Callable, Dict, List

import numpy as np
import tensorflow as tf

_TRACED = weakref.WeakKeyDictionary()  # model -> {cache key: TracedPass}


def tensor_key(wrapper, range_name: str) -> str:
    return f"{wrapper.name}/{range_name}"


@contextlib.contextmanager
def observing(wrappers, observer: Callable):
    """Has every wrapper hand its activations to `observer(wrapper, range name,
    values)` and pass them on in float."""
    for wrapper in wrappers:
        wrapper.calibration_observer = observer
    try:
        yield
    finally:
        for wrapper in wrappers:
            wrapper.calibration_observer = None


def _call(model, inputs: List):
    return model(list(inputs) if len(inputs) > 1 else inputs[0], training=False)


def outputs_with(model, wrappers, hook: Callable, inputs: List) -> list:
    """The model's outputs (flattened) with `hook` observing every wrapper;
    a hook may return the values to pass on instead of its input."""
    with observing(wrappers, hook):
        return tf.nest.flatten(_call(model, inputs))


def _input_signature(model):
    return [tf.TensorSpec((None,) + tuple(t.shape[1:]), tf.float32) for t in model.inputs]


class TracedStep:
    """step(*model inputs) in a tf.function, traced once for the model's inputs."""

    def __init__(self, model, step: Callable):
        self._step = tf.function(step, input_signature=_input_signature(model))

    def __call__(self, *batch):
        return self._step(*batch)


class TracedPass:
    """model(batch) in a tf.function returning {tensor key: reduce(key, values)}."""

    def __init__(self, model, wrappers, reduce: Callable):
        self.model, self.wrappers, self.reduce = model, wrappers, reduce
        self._step = tf.function(self._forward, input_signature=_input_signature(model))

    def _forward(self, *inputs):
        outputs = {}

        def hook(wrapper, range_name, values):  # runs while tracing
            outputs[tensor_key(wrapper, range_name)] = self.reduce(
                tensor_key(wrapper, range_name), values)

        with observing(self.wrappers, hook):
            _call(self.model, inputs)
        return outputs

    def __call__(self, batch) -> Dict[str, Dict[str, np.ndarray]]:
        outputs = self._step(*batch)
        return {key: {name: value.numpy() for name, value in reduced.items()}
                for key, reduced in outputs.items()}


def traced_pass(model, wrappers, cache_key, make: Callable[[], object]):
    """The cached TracedPass (or TracedStep) of `model` for `cache_key`, made on first use."""
    cache = _TRACED.setdefault(model, {})
    if cache_key not in cache:
        cache[cache_key] = make()
    return cache[cache_key]


def replica_activations(model, wrappers, strategy, batch) -> Dict[str, tuple]:
    """Runs `batch` split across the strategy's replicas; returns
    {tensor key: (wrapper, range name, the whole batch's activation)}."""
    lock, parts = threading.Lock(), {}

    def hook(wrapper, range_name, values):
        replica = int(tf.get_static_value(
            tf.distribute.get_replica_context().replica_id_in_sync_group))
        with lock:
            parts.setdefault(tensor_key(wrapper, range_name),
                             (wrapper, range_name, {}))[2][replica] = values.numpy()

    with observing(wrappers, hook):
        strategy.run(lambda x: _call(model, x), args=(_split_across_replicas(strategy, batch),))
    return {key: (wrapper, range_name, np.concatenate([by[r] for r in sorted(by)]))
            for key, (wrapper, range_name, by) in parts.items()}


def replica_outputs(model, wrappers, strategy, batch, hook: Callable) -> List[np.ndarray]:
    """The model's outputs (flattened) on `batch` split across the strategy's
    replicas, with `hook` observing every wrapper; replica parts joined in order."""
    with observing(wrappers, hook):
        per_replica = strategy.run(lambda x: tf.nest.flatten(_call(model, x)),
                                   args=(_split_across_replicas(strategy, batch),))
    return [np.concatenate([part.numpy() for part in strategy.experimental_local_results(output)])
            for output in per_replica]


def _split_across_replicas(strategy, batch):
    """`batch` (a list of arrays, one per model input) split into consecutive
    parts, one per replica, as distributed values."""
    bounds = np.linspace(0, batch[0].shape[0], strategy.num_replicas_in_sync + 1).astype(int)

    def replica_inputs(context):
        i = context.replica_id_in_sync_group
        return [tf.constant(a[bounds[i]:bounds[i + 1]]) for a in batch]
    return strategy.experimental_distribute_values_from_function(replica_inputs)
