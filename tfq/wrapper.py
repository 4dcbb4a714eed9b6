"""QuantizeWrapper: one Keras layer with tfq fake-quantization around it.

One implementation for both Keras flavours: the logic lives in mixins written
on TF ops, and `_layer_classes(keras_module)` derives concrete layer classes
from that flavour's `Layer` (Keras 3's `keras`, or `tf_keras`), each
registered for serialization in its own flavour.
"""
from __future__ import annotations

import functools

import keras
import tensorflow as tf

from tfq import quantizers, registry, schemes


class _QuantizeWrapperLogic:
    """Runs `layer` the way its int8 TFLite op will: fake-quantized weights
    (for WEIGHTED layers), an optional input range (for layers fed by a model
    input) and an output range (unless TFLite keeps the input's scale).

    Ranges are non-trainable variables: moving averages of batch min/max while
    training (`decay`), fixed at inference.
    """

    _keras = None  # the Keras flavour module, set on each concrete class
    _tfq_wrapper = True

    def __init__(self, layer, *, quantize_inputs=False, quantize_outputs=True, decay=0.999,
                 batch_norm=None, per_channel=True, scheme="int8", **kwargs):
        kwargs.setdefault("name", f"quant_{layer.name}")
        super().__init__(**kwargs)
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"QuantizeWrapper({layer.name!r}): decay must be in [0, 1), got {decay}")
        self.layer = layer
        # A BatchNormalization folded into this layer's weights (QAT folding).
        self.batch_norm = batch_norm
        self.quantize_inputs = quantize_inputs
        self.quantize_outputs = quantize_outputs
        # Per-channel weights for convolutions (Dense is always per-tensor).
        self.per_channel = per_channel
        self.decay = decay
        self.scheme = schemes.get(scheme)
        self.handling, self._forward = registry.lookup(layer)
        fixed = registry.fixed_range_activation(layer)
        self.fixed_range = self.scheme.fixed_output_range(fixed) if fixed else None

    def _range_variables(self, prefix):
        # Under tf.distribute each replica updates its range from its own
        # batch; MEAN aggregation merges them so every replica holds the same.
        aggregation = "mean" if self._keras is keras else tf.VariableAggregation.MEAN

        def scalar(name):
            return self.add_weight(name=f"{prefix}_{name}", shape=(), initializer="zeros",
                                   trainable=False, aggregation=aggregation)
        return scalar("min"), scalar("max"), scalar("initialized")

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build(input_shape)
        if self.batch_norm is not None and not self.batch_norm.built:
            self.batch_norm.build(self.layer.compute_output_shape(input_shape))
        self.input_range = self._range_variables("input") if self.quantize_inputs else None
        weighted = self.handling is registry.Handling.WEIGHTED
        self.intermediate_range = (self._range_variables("intermediate")
                                   if type(self.layer).__name__ == "SeparableConv2D" else None)
        self.pre_activation_range = (self._range_variables("pre_activation")
                                     if weighted and not registry.has_fusable_activation(self.layer)
                                     else None)
        needs_output_range = (self.quantize_outputs and self.fixed_range is None and
                              self.handling is not registry.Handling.SAME_SCALE)
        self.output_range = self._range_variables("output") if needs_output_range else None
        self.built = True

    # Set by tfq.calibrate during its passes: called eagerly with
    # (wrapper, range name, values); activations then pass through in float.
    calibration_observer = None

    def range_variables(self):
        """{range name: (min, max, initialized) variables} of this wrapper."""
        names = ("input", "intermediate", "pre_activation", "output")
        ranges = (self.input_range, self.intermediate_range, self.pre_activation_range,
                  self.output_range)
        return {name: variables for name, variables in zip(names, ranges) if variables is not None}

    def _quantize(self, values, range_name, training):
        if self.calibration_observer is not None:
            self.calibration_observer(self, range_name, values)
            return values
        range_min, range_max, initialized = self.range_variables()[range_name]
        if training:
            low, high = quantizers.update_moving_range(range_min, range_max, initialized, values,
                                                       self.decay)
        else:
            low, high = range_min, range_max
        return self.scheme.fake_quant_activations(values, low, high)

    def call(self, inputs, training=None, mask=None):  # mask: accepted as the wrapped layer's
        training = bool(training)
        if self.input_range is not None:
            inputs = self._quantize(inputs, "input", training)
        if self.handling is registry.Handling.WEIGHTED:
            kernel, bias = registry.kernel_of(self.layer), registry.bias_of(self.layer)
            if self.batch_norm is not None:
                outputs = self._folded_forward(inputs, kernel, bias, training)
            else:
                outputs = self._forward(self.layer, inputs, kernel, self._weight_options(training))
                if bias is not None:
                    outputs = tf.nn.bias_add(outputs, bias)
            if self.pre_activation_range is not None:
                outputs = self._quantize(outputs, "pre_activation", training)
            outputs = self.layer.activation(outputs)
        elif self._forward is not None:
            outputs = self._forward(self.layer, inputs)
        else:
            outputs = self.layer(inputs, training=training)
        if self.fixed_range is not None:
            return self.scheme.fake_quant_fixed(outputs, *self.fixed_range)
        if self.output_range is not None:
            outputs = self._quantize(outputs, "output", training)
        return outputs

    def _weight_options(self, training):
        intermediate = (lambda values: values)
        if self.intermediate_range is not None:
            intermediate = lambda values: self._quantize(values, "intermediate", training)
        return registry.WeightOptions(quantize=True, per_channel=self.per_channel,
                                      intermediate=intermediate)

    def _folded_forward(self, inputs, kernel, bias, training):
        """The layer with its BatchNormalization folded in, so the fake-quant
        sees the weights TFLite will hold: kernel x gamma / sqrt(moving var + eps).

        Training normalizes with the batch's statistics without a second,
        float convolution (Jacob et al. 2018): the batch moments of the
        unfolded output are read off the folded one (divide by the fold
        scale), then a per-channel correction rescales the output from moving
        to batch statistics, and the moving statistics are updated as
        BatchNormalization would. Inference uses the moving statistics only,
        which is exactly what the converter bakes into the .tflite.
        """
        bn = self.batch_norm
        gamma = tf.convert_to_tensor(bn.gamma) if bn.scale else 1.0
        beta = tf.convert_to_tensor(bn.beta) if bn.center else 0.0
        moving_mean = tf.convert_to_tensor(bn.moving_mean)
        moving_scale = gamma * tf.math.rsqrt(tf.convert_to_tensor(bn.moving_variance) + bn.epsilon)
        folded_kernel = registry.scale_output_channels(self.layer, kernel, moving_scale)
        folded = self._forward(self.layer, inputs, folded_kernel, self._weight_options(training))
        bias = bias if bias is not None else 0.0
        if not training:
            return folded + (beta + (bias - moving_mean) * moving_scale)
        # Moments of the unfolded output (folded / moving_scale + bias), taken
        # on the folded tensor and rescaled per channel: no extra full pass.
        folded_mean, folded_variance = tf.nn.moments(folded, axes=list(range(folded.shape.rank - 1)))
        mean = tf.math.divide_no_nan(folded_mean, moving_scale) + bias
        variance = tf.math.divide_no_nan(folded_variance, tf.square(moving_scale))
        mean, variance = _merge_replica_moments(mean, variance)
        momentum = bn.momentum
        bn.moving_mean.assign(bn.moving_mean * momentum + mean * (1 - momentum))
        bn.moving_variance.assign(bn.moving_variance * momentum + variance * (1 - momentum))
        batch_scale = gamma * tf.math.rsqrt(variance + bn.epsilon)
        correction = tf.math.divide_no_nan(batch_scale, moving_scale)
        return folded * correction + (beta + (bias - mean) * batch_scale)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        serialize = self._keras.layers.serialize
        config.update({"layer": serialize(self.layer),
                       "quantize_inputs": self.quantize_inputs,
                       "quantize_outputs": self.quantize_outputs, "decay": self.decay,
                       "per_channel": self.per_channel, "scheme": self.scheme.name,
                       "batch_norm": (serialize(self.batch_norm)
                                      if self.batch_norm is not None else None)})
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        deserialize = cls._keras.layers.deserialize
        layer = deserialize(config.pop("layer"))
        batch_norm = config.pop("batch_norm", None)
        if batch_norm is not None:
            batch_norm = deserialize(batch_norm)
        return cls(layer, batch_norm=batch_norm, **config)


def _merge_replica_moments(mean, variance):
    """Under tf.distribute, the moments of the global batch (equal-sized
    replica batches), so folded weights and moving statistics agree on every
    replica."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return mean, variance
    mean, mean_square = context.all_reduce(tf.distribute.ReduceOp.MEAN,
                                           [mean, variance + tf.square(mean)])
    return mean, mean_square - tf.square(mean)


class _FoldedBatchNormalizationLogic:
    """Stands where a BatchNormalization was folded into the preceding layer's
    weights (its QuantizeWrapper does the normalization); passes inputs on."""

    def call(self, inputs, training=None, mask=None):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape


def _layer_classes(keras_module):
    """(QuantizeWrapper, FoldedBatchNormalization) derived from `keras_module.layers.Layer`."""
    register = keras_module.utils.register_keras_serializable(package="tfq")
    base = keras_module.layers.Layer
    wrapper = register(type("QuantizeWrapper", (_QuantizeWrapperLogic, base),
                            {"_keras": keras_module, "__doc__": _QuantizeWrapperLogic.__doc__,
                             "__module__": __name__}))
    folded = register(type("FoldedBatchNormalization", (_FoldedBatchNormalizationLogic, base),
                           {"__doc__": _FoldedBatchNormalizationLogic.__doc__,
                            "__module__": __name__}))
    return wrapper, folded


# Keras 3, the default `keras` of TF 2.21.
QuantizeWrapper, FoldedBatchNormalization = _layer_classes(keras)


@functools.lru_cache(maxsize=None)
def tf_keras_layer_classes():
    """The same layers for tf_keras models (imported only when one is quantized)."""
    import tf_keras  # pylint: disable=import-outside-toplevel
    return _layer_classes(tf_keras)


def is_wrapper(layer) -> bool:
    return getattr(layer, "_tfq_wrapper", False)


def is_quantized(model) -> bool:
    return any(is_wrapper(layer) for layer in model.layers)
