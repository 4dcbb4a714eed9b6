"""tfq.quantize_model: a Keras model -> the same model with QuantizeWrappers."""
from __future__ import annotations

import contextlib
from typing import Iterable

import keras
import tensorflow as tf

from tfq import keras_graph, registry, schemes, wrapper as wrappers
from tfq.wrapper import is_quantized, is_wrapper


@contextlib.contextmanager
def quantize_scope():
    """Custom-object scope naming tfq's layers, for code written for
    tensorflow-model-optimization's `quantize_scope` (tfq's layers are
    registered, so loading a saved tfq model works without it too)."""
    objects = {"QuantizeWrapper": wrappers.QuantizeWrapper,
               "FoldedBatchNormalization": wrappers.FoldedBatchNormalization}
    with keras.utils.custom_object_scope(objects):
        try:
            import tf_keras  # pylint: disable=import-outside-toplevel
        except ImportError:
            yield
            return
        wrapper_class, folded_class = wrappers.tf_keras_layer_classes()
        with tf_keras.utils.custom_object_scope({"QuantizeWrapper": wrapper_class,
                                                 "FoldedBatchNormalization": folded_class}):
            yield


def _keras_flavour(model):
    """The Keras module `model` belongs to: Keras 3 (`keras`) or `tf_keras`."""
    if isinstance(model, keras.Model):
        return keras
    try:
        import tf_keras  # pylint: disable=import-outside-toplevel
    except ImportError:
        tf_keras = None
    if tf_keras is not None and isinstance(model, tf_keras.Model):
        return tf_keras
    raise TypeError(f"tfq.quantize_model expects a Keras model (keras.Model or tf_keras.Model, "
                    f"Sequential or Functional), got {type(model).__name__}")


def _check_model(model, flavour):
    if is_quantized(model):
        raise ValueError(f"model {model.name!r} is already quantized (it holds QuantizeWrapper "
                         "layers); call tfq.quantize_model on the float model")
    if not isinstance(model, flavour.Sequential) and not getattr(model, "_is_graph_network", False) \
            and type(model).__name__ != "Functional":
        raise ValueError(
            f"model {model.name!r} is a subclassed keras.Model ({type(model).__name__}); tfq "
            "cannot see its graph. Rebuild it with the Functional API (keras.Input -> layers -> "
            "keras.Model) and call tfq.quantize_model on that")
    if not model.built:
        raise ValueError(f"model {model.name!r} is not built; give it an Input or call it once")


def _layers_fed_by_model_inputs(model) -> dict:
    """{layer name: True when its one input is a model input; for a layer of
    several inputs (a residual Add of the model input), the positions of the
    model inputs among them: only those get the input range}."""
    input_ids = {id(tensor) for tensor in model.inputs}
    fed = {}
    for layer in model.layers:
        for node in getattr(layer, "_inbound_nodes", []):
            tensors = keras_graph.node_inputs(node)
            positions = [i for i, tensor in enumerate(tensors) if id(tensor) in input_ids]
            if positions:
                fed[layer.name] = True if len(tensors) == 1 else positions
    return fed


def _consumers(model) -> dict:
    """{layer name: [layers that take its output]}."""
    consumers = {}
    for layer in model.layers:
        for node in getattr(layer, "_inbound_nodes", []):
            for tensor in keras_graph.node_inputs(node):
                consumers.setdefault(keras_graph.producer(tensor).name, []).append(layer)
    return consumers


def _layers_without_own_output_range(model, consumers, folds, skip) -> set:
    """Layers whose output tensor does not exist in the .tflite as they
    produce it, so it gets no fake-quant (the converter would put none there):
    - all consumers are Concatenate, directly or through same-scale layers
      (UpSampling2D, MaxPooling2D, Reshape, ...): TFLite gives its inputs the
      output's scale. An own range there would make the converter requantize
      into the Concatenate's scale, and TFLite's requantization rounds away
      from zero by up to 2^-(r+1) LSB (r: the right shift of s_in / s_out,
      1 for ratios in [0.25, 0.5)), which no float fake-quant reproduces: a
      U-Net's decoder landed 1 LSB off on a quarter of its values;
    - the one consumer is a ReLU/ReLU6 the converter fuses into this op.
    A folded BatchNormalization is looked through: its consumers count."""
    folded_into = {producer: bn for bn, producer in folds.items()}
    output_producers = {keras_graph.producer(t).name for t in model.outputs}

    def feeds_only_shared_ranges(name):
        following = consumers.get(name, [])
        if not following or name in output_producers:
            return False
        return all(type(c).__name__ in registry.SHARES_INPUT_RANGES or
                   (c.name not in skip and _is_same_scale(c) and
                    feeds_only_shared_ranges(c.name))
                   for c in following)

    without = set()
    for layer in model.layers:
        name = folded_into.get(layer.name, layer.name)
        following = consumers.get(name, [])
        if not following or name in output_producers:
            continue
        if feeds_only_shared_ranges(name):
            without.add(layer.name)
        elif (len(following) == 1 and type(layer).__name__ in registry.TAKES_FUSED_ACTIVATION
              and registry.has_fusable_activation(layer) and following[0].name not in skip
              and registry.is_fusable_activation_layer(following[0])):
            without.add(layer.name)
    return without


def _is_same_scale(layer) -> bool:
    """A layer TFLite runs at its input's scale (not InputLayer, a nested
    model or an unregistered layer)."""
    if type(layer).__name__ == "InputLayer" or _is_graph_model(layer):
        return False
    try:
        return registry.lookup(layer)[0] is registry.Handling.SAME_SCALE
    except ValueError:
        return False


def _batch_norms_to_fold(model, consumers, skip) -> dict:
    """{BatchNormalization name: producer name} for every WEIGHTED layer whose
    only consumer is a BatchNormalization it can absorb."""
    folds = {}
    for layer in model.layers:
        following = consumers.get(layer.name, [])
        if (len(following) == 1 and layer.name not in skip and following[0].name not in skip
                and type(layer).__name__ != "InputLayer"
                and registry.can_fold_batch_norm(layer, following[0])):
            folds[following[0].name] = layer.name
    return folds


def _is_graph_model(layer) -> bool:
    """A Sequential or Functional model (possibly nested inside another)."""
    return type(layer).__name__ in ("Sequential", "Functional") or \
        getattr(layer, "_is_graph_network", False)


def _all_layer_names(model) -> set:
    names = set()
    for layer in model.layers:
        names.add(layer.name)
        if _is_graph_model(layer):
            names |= _all_layer_names(layer)
    return names


def _check_supported(model, skip):
    """Every unsupported layer, nested ones included, fails before anything is
    cloned. A BatchNormalization is supported where it folds into its producer."""
    folded = _batch_norms_to_fold(model, _consumers(model), skip)
    for layer in model.layers:
        if layer.name in skip or layer.name in folded or type(layer).__name__ == "InputLayer":
            continue
        if _is_graph_model(layer):
            _check_supported(layer, skip)
        else:
            registry.lookup(layer)


def quantize_model(model, *, scheme: str = "int8", skip_layers: Iterable[str] = (),
                   decay: float = 0.999, per_channel: bool = True):
    """Returns a copy of `model` whose layers carry tfq fake-quantization.

    `scheme`: "int8" (int8 activations) or "int16x8" (int16 activations,
    int8 weights; convert with TFLite's 16x8 ops set). Train it with plain
    `model.fit` (QAT), then convert it with
    TFLiteConverter (Optimize.DEFAULT) to a full-integer .tflite. Layers named
    in `skip_layers` stay float (names inside nested models count too).
    Convolution weights are per-channel unless `per_channel=False`; Dense
    weights are per-tensor (what converts). A BatchNormalization right after a
    Conv/Dense without activation is folded into its weights for real during
    training. Nested models are quantized in place. The float model is
    untouched.
    """
    flavour = _keras_flavour(model)
    _check_model(model, flavour)
    schemes.get(scheme)  # ValueError naming the known schemes
    skip = set(skip_layers)
    unknown = sorted(skip - _all_layer_names(model))
    if unknown:
        raise ValueError(f"skip_layers names layers not in model {model.name!r}: {unknown}; "
                         f"its layers are {sorted(_all_layer_names(model))}")
    _check_supported(model, skip)
    options = dict(skip=skip, decay=decay, per_channel=per_channel, scheme=scheme)
    return _quantize_graph(model, flavour, quantize_model_inputs=True, **options)


def _quantize_graph(model, flavour, *, quantize_model_inputs, skip, decay, per_channel, scheme):
    """quantize_model's work on one (possibly nested) graph model.
    `quantize_model_inputs`: give the layers fed by the model's inputs an input
    range (False for a nested model fed by a layer that already has one)."""
    wrapper_class, folded_class = (wrappers.tf_keras_layer_classes() if flavour is not keras else
                                   (wrappers.QuantizeWrapper, wrappers.FoldedBatchNormalization))
    fed_by_inputs = _layers_fed_by_model_inputs(model) if quantize_model_inputs else {}
    consumers = _consumers(model)
    folds = _batch_norms_to_fold(model, consumers, skip)  # BN name -> producer name
    range_from_consumer = _layers_without_own_output_range(model, consumers, folds, skip)
    folded_into = {producer: bn for bn, producer in folds.items()}
    originals = {layer.name: layer for layer in model.layers}
    nested = set()

    def fresh_copy(layer):
        return layer.__class__.from_config(layer.get_config())

    def clone(layer):
        if layer.name in folds:  # absorbed by its producer's wrapper
            return folded_class(name=layer.name)
        if layer.name in skip:
            return fresh_copy(layer)
        if _is_graph_model(layer):
            nested.add(layer.name)
            return _quantize_graph(layer, flavour, quantize_model_inputs=layer.name in fed_by_inputs,
                                   skip=skip, decay=decay, per_channel=per_channel,
                                   scheme=scheme)
        bn_name = folded_into.get(layer.name)
        return wrapper_class(fresh_copy(layer), quantize_inputs=fed_by_inputs.get(layer.name, False),
                             quantize_outputs=layer.name not in range_from_consumer,
                             decay=decay, per_channel=per_channel, scheme=scheme,
                             batch_norm=fresh_copy(originals[bn_name]) if bn_name else None)

    quantized = flavour.models.clone_model(model, clone_function=clone)
    for layer in quantized.layers:
        if layer.name in nested:
            continue  # its own _quantize_graph copied its weights
        inners = [layer]
        if is_wrapper(layer):
            inners = [layer.layer] + ([layer.batch_norm] if layer.batch_norm is not None else [])
        for inner in inners:
            source = originals.get(inner.name)
            if source is not None and source.weights and inner.weights:
                inner.set_weights(source.get_weights())
    return quantized
