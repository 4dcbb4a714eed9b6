"""tfq.quantize_model: a Keras model -> the same model with QuantizeWrappers."""
from __future__ import annotations

from typing import Iterable

import keras

from tfq import registry
from tfq.wrapper import FoldedBatchNormalization, QuantizeWrapper, is_quantized

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


def _consumers(model) -> dict:
    """{layer name: [layers that take its output]}."""
    consumers = {}
    for layer in model.layers:
        for node in getattr(layer, "_inbound_nodes", []):
            for tensor in node.input_tensors:
                producer = tensor._keras_history.operation  # pylint: disable=protected-access
                consumers.setdefault(producer.name, []).append(layer)
    return consumers


def _layers_without_own_output_range(model, consumers, folds, skip) -> set:
    """Layers whose output tensor does not exist in the .tflite as they
    produce it, so it gets no fake-quant (the converter would put none there):
    - all consumers are Concatenate: TFLite gives its inputs the output's scale;
    - the one consumer is a ReLU/ReLU6 the converter fuses into this op.
    A folded BatchNormalization is looked through: its consumers count."""
    folded_into = {producer: bn for bn, producer in folds.items()}
    output_producers = {t._keras_history.operation.name for t in model.outputs}  # pylint: disable=protected-access
    without = set()
    for layer in model.layers:
        name = folded_into.get(layer.name, layer.name)
        following = consumers.get(name, [])
        if not following or name in output_producers:
            continue
        if all(type(c).__name__ in registry.SHARES_INPUT_RANGES for c in following):
            without.add(layer.name)
        elif (len(following) == 1 and type(layer).__name__ in registry.TAKES_FUSED_ACTIVATION
              and registry.has_fusable_activation(layer) and following[0].name not in skip
              and registry.is_fusable_activation_layer(following[0])):
            without.add(layer.name)
    return without


def _batch_norms_to_fold(model, consumers, skip) -> dict:
    """{BatchNormalization name: producer name} for every WEIGHTED layer whose
    only consumer is a BatchNormalization it can absorb."""
    folds = {}
    for layer in model.layers:
        following = consumers.get(layer.name, [])
        if (len(following) == 1 and layer.name not in skip and following[0].name not in skip
                and not isinstance(layer, keras.layers.InputLayer)
                and registry.can_fold_batch_norm(layer, following[0])):
            folds[following[0].name] = layer.name
    return folds


def quantize_model(model, *, scheme: str = "int8", skip_layers: Iterable[str] = (),
                   decay: float = 0.999, per_channel: bool = True):
    """Returns a copy of `model` whose layers carry tfq fake-quantization.

    Train it with plain `model.fit` (QAT), then convert it with
    TFLiteConverter (Optimize.DEFAULT) to a full-integer .tflite. Layers named
    in `skip_layers` stay float. Convolution weights are per-channel unless
    `per_channel=False`; Dense weights are per-tensor (what converts).
    A BatchNormalization right after a Conv/Dense without activation is folded
    into its weights for real during training. The float model is untouched.
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
    consumers = _consumers(model)
    folds = _batch_norms_to_fold(model, consumers, skip)  # BN name -> producer name
    range_from_consumer = _layers_without_own_output_range(model, consumers, folds, skip)
    folded_into = {producer: bn for bn, producer in folds.items()}
    originals = {layer.name: layer for layer in model.layers}

    def fresh_copy(layer):
        return layer.__class__.from_config(layer.get_config())

    def clone(layer):
        if layer.name in folds:  # absorbed by its producer's wrapper
            return FoldedBatchNormalization(name=layer.name)
        if layer.name in skip:
            return fresh_copy(layer)
        bn_name = folded_into.get(layer.name)
        return QuantizeWrapper(fresh_copy(layer), quantize_inputs=layer.name in fed_by_inputs,
                               quantize_outputs=layer.name not in range_from_consumer,
                               decay=decay, per_channel=per_channel,
                               batch_norm=fresh_copy(originals[bn_name]) if bn_name else None)

    quantized = keras.models.clone_model(model, clone_function=clone)
    for layer in quantized.layers:
        inners = [layer]
        if isinstance(layer, QuantizeWrapper):
            inners = [layer.layer] + ([layer.batch_norm] if layer.batch_norm is not None else [])
        for inner in inners:
            source = originals.get(inner.name)
            if source is not None and source.weights and inner.weights:
                inner.set_weights(source.get_weights())
    return quantized
