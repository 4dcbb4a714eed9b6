"""tfq.quantize_model: a Keras model -> the same model with QuantizeWrappers."""
from __future__ import annotations

from typing import Iterable

import keras

from tfq import registry
from tfq.wrapper import QuantizeWrapper, is_quantized

_SCHEMES = ("int8",)


def _check_model(model):
    if not isinstance(model, keras.Model):
        raise TypeError(f"tfq.quantize_model expects a keras.Model (Sequential or Functional), "
                        f"got {type(model).__name__}")
    if is_quantized(model):
        raise ValueError(f"model {model.name!r} is already quantized (it holds QuantizeWrapper "
                         "layers); call tfq.quantize_model on the float model")
    if not isinstance(model, keras.Sequential) and not getattr(model, "_is_graph_network", False) \
            and type(model).__name__ != "Functional":
        raise ValueError(
            f"model {model.name!r} is a subclassed keras.Model ({type(model).__name__}); tfq "
            "cannot see its graph. Rebuild it with the Functional API (keras.Input -> layers -> "
            "keras.Model) and call tfq.quantize_model on that")
    if not model.built:
        raise ValueError(f"model {model.name!r} is not built; give it an Input or call it once")


def _layers_fed_by_model_inputs(model) -> set:
    input_ids = {id(tensor) for tensor in model.inputs}
    fed = set()
    for layer in model.layers:
        for node in getattr(layer, "_inbound_nodes", []):
            if any(id(tensor) in input_ids for tensor in node.input_tensors):
                fed.add(layer.name)
    return fed


def _layers_feeding_only_shared_range_layers(model) -> set:
    """Layers all of whose consumers take their input range from their output
    (Concatenate): those layers get no output range of their own."""
    consumers = {}
    for layer in model.layers:
        for node in getattr(layer, "_inbound_nodes", []):
            for tensor in node.input_tensors:
                producer = tensor._keras_history.operation  # pylint: disable=protected-access
                consumers.setdefault(producer.name, []).append(type(layer).__name__)
    output_producers = {t._keras_history.operation.name for t in model.outputs}  # pylint: disable=protected-access
    return {name for name, kinds in consumers.items()
            if name not in output_producers and
            all(kind in registry.SHARES_INPUT_RANGES for kind in kinds)}


def quantize_model(model, *, scheme: str = "int8", skip_layers: Iterable[str] = (),
                   decay: float = 0.999):
    """Returns a copy of `model` whose layers carry tfq fake-quantization.

    Train it with plain `model.fit` (QAT), then convert it with
    TFLiteConverter (Optimize.DEFAULT) to a full-integer .tflite. Layers named
    in `skip_layers` stay float. The float model is left untouched.
    """
    _check_model(model)
    if scheme not in _SCHEMES:
        raise ValueError(f"tfq.quantize_model: unknown scheme {scheme!r}; expected one of {_SCHEMES}")
    skip = set(skip_layers)
    names = {layer.name for layer in model.layers}
    unknown = sorted(skip - names)
    if unknown:
        raise ValueError(f"skip_layers names layers not in model {model.name!r}: {unknown}; "
                         f"its layers are {sorted(names)}")
    for layer in model.layers:  # fail on every unsupported layer before cloning anything
        if layer.name not in skip and not isinstance(layer, keras.layers.InputLayer):
            registry.lookup(layer)
    fed_by_inputs = _layers_fed_by_model_inputs(model)
    range_from_consumer = _layers_feeding_only_shared_range_layers(model)
    originals = {layer.name: layer for layer in model.layers}

    def clone(layer):
        fresh = layer.__class__.from_config(layer.get_config())
        if layer.name in skip:
            return fresh
        return QuantizeWrapper(fresh, quantize_inputs=layer.name in fed_by_inputs,
                               quantize_outputs=layer.name not in range_from_consumer,
                               decay=decay)

    quantized = keras.models.clone_model(model, clone_function=clone)
    for layer in quantized.layers:
        inner = layer.layer if isinstance(layer, QuantizeWrapper) else layer
        source = originals.get(inner.name)
        if source is not None and source.weights:
            inner.set_weights(source.get_weights())
    return quantized
