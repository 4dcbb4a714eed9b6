"""QuantizeWrapper: one Keras layer with tfq fake-quantization around it.

One implementation for both Keras flavours: the logic lives in mixins written
on TF ops, and `_layer_classes(keras_module)` derives concrete layer classes
from that flavour's `Layer` (Keras 3's `keras`, or `tf_keras`), each
registered for serialization in its own flavour.
"""
from __future__ import annotations

import functools
import weakref

import keras
import tensorflow as tf

from tfq import keras_graph, quantizers, registry, requantization, schemes, training_ops


class _QuantizeWrapperLogic:
    """Runs `layer` the way its int8 TFLite op will: fake-quantized weights
    (for WEIGHTED layers), an optional input range (for layers fed by a model
    input) and an output range (unless TFLite keeps the input's scale).

    Ranges are non-trainable variables: moving averages of batch min/max while
    training (`decay`), fixed at inference.
    """

    _keras = None  # the Keras flavour module, set on each concrete class
    _tfq_wrapper = True

    # quantize_inputs: True (every input is a model input), False, or for a
    # merge layer the positions of its inputs that are model inputs.
    def __init__(self, layer, *, quantize_inputs=False, quantize_outputs=True, decay=0.999,
                 batch_norm=None, per_channel=True, scheme="int8", **kwargs):
        kwargs.setdefault("name", f"quant_{layer.name}")
        super().__init__(**kwargs)
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"QuantizeWrapper({layer.name!r}): decay must be in [0, 1), got {decay}")
        self.layer = layer
        # A BatchNormalization folded into this layer's weights (QAT folding).
        self.batch_norm = batch_norm
        self.quantize_inputs = (list(quantize_inputs) if isinstance(quantize_inputs, (list, tuple))
                                else bool(quantize_inputs))
        self.quantize_outputs = quantize_outputs
        # Per-channel weights for convolutions (Dense is always per-tensor).
        self.per_channel = per_channel
        self.decay = decay
        self.scheme = schemes.get(scheme)
        self.handling, self._forward = registry.lookup(layer)
        fixed = registry.fixed_range_activation(layer)
        self.fixed_range = self.scheme.fixed_output_range(fixed) if fixed else None
        self.relu_upper_bound = registry.relu_upper_bound(layer)
        # Set when the layer is called on symbolic tensors (building, cloning
        # or loading the model), so inference can round as TFLite's
        # requantization does (requantization.py): weak references to the
        # wrappers whose output ranges this layer's inputs have, and to the
        # one whose range this layer's output takes when it has none of its own.
        self._input_producers = []
        self._range_owner = None

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
            observed = self.calibration_observer(self, range_name, values)
            return values if observed is None else observed
        range_min, range_max, initialized = self.range_variables()[range_name]
        if training:
            low, high = quantizers.update_moving_range(range_min, range_max, initialized,
                                                       *training_ops.batch_range(values),
                                                       self.decay)
        else:
            low, high = range_min, range_max
        return self.scheme.fake_quant_activations(values, low, high, training=training)

    def _quantize_relu_output(self, values, upper_bound):
        """fake_quant(relu(values)) while training, in one pass: the fake-quant
        over [0, high] (high <= upper_bound) clamps exactly as the ReLU would,
        and relu(values)'s batch range is [0, clip(max values)] (the range
        minimum of a ReLU output is 0: fake_quant_activations keeps 0 in every
        range). Saves the ReLU's forward and gradient passes."""
        range_min, range_max, initialized = self.output_range
        batch_max = tf.clip_by_value(training_ops.batch_range(values)[1], 0.0, upper_bound)
        low, high = quantizers.update_moving_range(range_min, range_max, initialized,
                                                   tf.constant(0.0), batch_max, self.decay)
        return self.scheme.fake_quant_activations(
            values, tf.maximum(low, 0.0), tf.minimum(high, upper_bound), training=True)

    def __call__(self, *args, **kwargs):
        if args and _is_symbolic(args[0]):
            self._link_ranges(args[0])
        return super().__call__(*args, **kwargs)

    def _link_ranges(self, inputs):
        """Records which wrappers' ranges meet at this layer (see __init__)."""
        tensors = tf.nest.flatten(inputs)
        self._input_producers = [_weak(_range_producer(tensor)) for tensor in tensors]
        if (type(self.layer).__name__ in registry.SHARES_INPUT_RANGES or
                registry.is_fusable_activation_layer(self.layer)):
            for tensor in tensors:
                for source in _sources_sharing_range(tensor):
                    source._range_owner = weakref.ref(self)  # pylint: disable=protected-access

    def output_scale(self):
        """The scale of this layer's output in the .tflite (a tensor), or None
        when no range of tfq's decides it (a float or nested producer)."""
        if self.fixed_range is not None:
            return self.scheme.activation_scale(*self.fixed_range)
        if self.output_range is not None:
            return self._scale_of(self.output_range)
        owner = _dereference(self._range_owner)
        if owner is not None:
            return owner.output_scale()
        if self.handling is registry.Handling.SAME_SCALE:
            return self._input_scale()
        return None

    def _scale_of(self, range_variables):
        """The .tflite scale of a (min, max, initialized) range of this wrapper's."""
        return self.scheme.activation_scale(*range_variables[:2])

    def _input_scale(self, position=0):
        """The scale of input `position` in the .tflite, or None if unknown."""
        if self.input_range is not None and (self.quantize_inputs is True or
                                             position in self.quantize_inputs):
            return self._scale_of(self.input_range)
        producers = self._input_producers
        producer = _dereference(producers[position]) if position < len(producers) else None
        return producer.output_scale() if producer is not None else None

    def _rounds_as_tflite(self, training):
        """Inference in the int8 scheme, outside calibration and SavedModel export."""
        return (not training and self.calibration_observer is None and
                self.scheme is schemes.INT8 and requantization.applies())

    def _requantization_lean(self, values, input_scale, weight_scales, output_scale):
        if input_scale is None or output_scale is None:
            return values
        return requantization.lean(values, input_scale, weight_scales, output_scale)

    def call(self, inputs, training=None, mask=None):  # mask: accepted as the wrapped layer's
        training = bool(training)
        fuse_relu = (training and self.relu_upper_bound is not None and
                     self.output_range is not None and self.calibration_observer is None and
                     not self.scheme.symmetric_activations)
        if self.input_range is not None:
            inputs = self._quantize_model_inputs(inputs, training)
        if self.handling is registry.Handling.WEIGHTED:
            kernel, bias = registry.kernel_of(self.layer), registry.bias_of(self.layer)
            if not training:
                outputs = self._inference_forward(inputs, kernel, bias)
            elif self.batch_norm is not None:
                outputs = self._folded_training_forward(inputs, kernel, bias)
            else:
                outputs = self._forward(self.layer, inputs, kernel, self._weight_options(training))
                if bias is not None:
                    outputs = tf.nn.bias_add(outputs, bias)
            if self.pre_activation_range is not None:
                outputs = self._quantize(outputs, "pre_activation", training)
            if fuse_relu:
                return self._quantize_relu_output(outputs, self.relu_upper_bound)
            outputs = self.layer.activation(outputs)
        elif fuse_relu:
            return self._quantize_relu_output(inputs, self.relu_upper_bound)
        elif self._forward is not None:
            outputs = self._forward(self.layer, inputs)
        else:
            if (self._rounds_as_tflite(training) and
                    type(self.layer).__name__ in registry.SHARES_INPUT_RANGES):
                inputs = self._lean_into_shared_range(inputs)
            outputs = self.layer(inputs, training=training)
        if self.fixed_range is not None:
            return self.scheme.fake_quant_fixed(outputs, *self.fixed_range)
        if self.output_range is not None:
            outputs = self._quantize(outputs, "output", training)
        return outputs

    def _quantize_model_inputs(self, inputs, training):
        """The input range on the inputs that are model inputs: all of a
        single-input layer's, only the listed positions of a merge layer's (its
        other inputs carry their producers' ranges already)."""
        if not isinstance(inputs, (list, tuple)):
            return self._quantize(inputs, "input", training)
        positions = (range(len(inputs)) if self.quantize_inputs is True else
                     self.quantize_inputs)
        inputs = list(inputs)
        for position in positions:
            inputs[position] = self._quantize(inputs[position], "input", training)
        return inputs

    def _inference_forward(self, inputs, kernel, bias):
        """The op at inference, with its BatchNormalization folded in (the
        moving statistics, as the converter bakes them into the .tflite).

        Outside a SavedModel trace (int8), computed as TFLite's integer op
        does: the bias on TFLite's int32 grid (steps of input scale x weight
        scale; the float bias is up to half a step off, which at the small
        multipliers of a depthwise conv is a quarter of an output LSB), and
        the output rounding's lean where it requantizes (into the
        pre-activation range, its own output range or the one it takes)."""
        if self.batch_norm is not None:
            bn = self.batch_norm
            fold_scale = self._fold_scale()
            kernel = registry.scale_output_channels(self.layer, kernel, fold_scale)
            bias = ((0.0 if bias is None else bias) - tf.convert_to_tensor(bn.moving_mean)) * \
                fold_scale
            if bn.center:
                bias = bias + tf.convert_to_tensor(bn.beta)
        outputs = self._forward(self.layer, inputs, kernel, self._weight_options(training=False))
        input_scale = (self._scale_of(self.intermediate_range)
                       if self.intermediate_range is not None else self._input_scale())
        if not self._rounds_as_tflite(training=False) or input_scale is None:
            # (input_scale None: fed by a float or nested layer, no integer grid known.)
            if bias is None:
                return outputs
            return outputs + bias if self.batch_norm is not None else tf.nn.bias_add(outputs, bias)
        weight_scales = registry.weight_scales(self.layer, kernel, self.per_channel)
        if bias is not None:
            bias_step = input_scale * weight_scales
            # An all-zero channel (step 0) keeps its float bias, as TFLite can hold no other.
            outputs = outputs + tf.where(bias_step > 0, tf.round(
                tf.math.divide_no_nan(bias, bias_step)) * bias_step, bias)
        output_scale = (self._scale_of(self.pre_activation_range)
                        if self.pre_activation_range is not None else self.output_scale())
        return self._requantization_lean(outputs, input_scale, weight_scales, output_scale)

    def _lean_into_shared_range(self, inputs):
        """TFLite's rounding lean on each input the converter requantizes
        (a QUANTIZE op) into this layer's range; none where the scales agree
        (multiplier 1)."""
        output_scale = self.output_scale()
        return [self._requantization_lean(tensor, self._input_scale(position), 1.0, output_scale)
                for position, tensor in enumerate(inputs)]

    def _weight_options(self, training, unfold=lambda kernel: kernel):
        intermediate = (lambda values: values)
        if self.intermediate_range is not None:
            def intermediate(values):
                if self._rounds_as_tflite(training):
                    values = self._requantization_lean(
                        values, self._input_scale(),
                        registry.separable_depthwise_weight_scales(self.layer),
                        self._scale_of(self.intermediate_range))
                return self._quantize(values, "intermediate", training)
        return registry.WeightOptions(quantize=True, per_channel=self.per_channel,
                                      intermediate=intermediate, unfold=unfold)

    def _folded_training_forward(self, inputs, kernel, bias):
        """A training step of the layer with its BatchNormalization folded in,
        so the fake-quant sees the weights TFLite will hold:
        kernel x gamma / sqrt(moving var + eps).

        It normalizes with the batch's statistics without a second, float
        convolution (Jacob et al. 2018): the op run with the fake-quantized
        folded kernel divided by the fold scale gives the unfolded output (up
        to the weight rounding), and BatchNormalization with batch statistics
        runs on that; the moving statistics are updated as BatchNormalization
        would. Inference (_inference_forward) uses the moving statistics
        only, which is exactly what the converter bakes into the .tflite.
        """
        bn = self.batch_norm
        gamma = tf.convert_to_tensor(bn.gamma) if bn.scale else None
        beta = tf.convert_to_tensor(bn.beta) if bn.center else None
        # The fold scale is a constant of this step: the output does not
        # depend on it (it cancels between the fold and the unfold below),
        # so gamma learns through the normalization alone, as in float BN.
        moving_scale = tf.stop_gradient(self._fold_scale())
        folded_kernel = registry.scale_output_channels(self.layer, kernel, moving_scale)
        bias = bias if bias is not None else 0.0
        # The fold undone on the fake-quantized kernel (small) rather than on
        # the output (full size): the same values, since the op is linear.
        inverse_scale = tf.math.divide_no_nan(1.0, moving_scale)
        options = self._weight_options(True, unfold=lambda quantized: (
            registry.scale_output_channels(self.layer, quantized, inverse_scale)))
        unfolded = self._forward(self.layer, inputs, folded_kernel, options)
        outputs, mean, variance = _batch_normalize(unfolded, gamma, beta, bn.epsilon)
        mean = mean + bias
        momentum = bn.momentum
        bn.moving_mean.assign(bn.moving_mean * momentum + mean * (1 - momentum))
        bn.moving_variance.assign(bn.moving_variance * momentum + variance * (1 - momentum))
        return outputs

    def _fold_scale(self):
        """gamma / sqrt(moving variance + epsilon): what folds into the kernel."""
        bn = self.batch_norm
        moving_inv_std = tf.math.rsqrt(tf.convert_to_tensor(bn.moving_variance) + bn.epsilon)
        return moving_inv_std * tf.convert_to_tensor(bn.gamma) if bn.scale else moving_inv_std

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


def _is_symbolic(inputs) -> bool:
    """Keras tensors of a model being built (Keras 3 or tf_keras), not values."""
    return any(hasattr(tensor, "_keras_history") for tensor in tf.nest.flatten(inputs))


def _range_producer(tensor):
    """The wrapper whose output_scale() is this symbolic tensor's scale, or
    None. A folded BatchNormalization is looked through: its wrapper's
    output is the tensor TFLite holds."""
    if not hasattr(tensor, "_keras_history"):
        return None
    layer = keras_graph.producer(tensor)
    if isinstance(layer, _FoldedBatchNormalizationLogic):
        return _range_producer(keras_graph.producer_first_input(tensor))
    return layer if is_wrapper(layer) else None


def _sources_sharing_range(tensor):
    """Wrappers without a range of their own that produce `tensor`, directly
    or through same-scale layers: their output takes the consumer's range."""
    layer = _range_producer(tensor)
    if layer is None:
        return []
    if layer.handling is registry.Handling.SAME_SCALE:
        return ([] if layer.quantize_inputs else
                _sources_sharing_range(keras_graph.producer_first_input(tensor)))
    return [] if layer.quantize_outputs else [layer]


def _weak(layer):
    return weakref.ref(layer) if layer is not None else None


def _dereference(reference):
    return reference() if reference is not None else None


def _batch_normalize(values, gamma, beta, epsilon):
    """BatchNormalization of `values` (channels last) with its batch
    statistics: (normalized, batch mean, biased batch variance).

    Under tf.distribute the statistics are the global batch's (equal-sized
    replica batches), so folded weights and moving statistics agree on every
    replica. Otherwise one fused op does what would be six passes over the
    activations (forward and gradient).
    """
    channels = values.shape[-1]
    context = tf.distribute.get_replica_context()
    if context is not None and context.num_replicas_in_sync > 1:
        axes = list(range(values.shape.rank - 1))
        mean, variance = tf.nn.moments(values, axes=axes)
        mean, mean_square = context.all_reduce(tf.distribute.ReduceOp.MEAN,
                                               [mean, variance + tf.square(mean)])
        variance = mean_square - tf.square(mean)
        outputs = tf.nn.batch_normalization(values, mean, variance, beta, gamma, epsilon)
        return outputs, mean, variance
    # FusedBatchNorm takes 4-D NHWC; any rank flattens to [1, 1, rows, channels].
    flat = tf.reshape(values, [1, 1, -1, channels])
    ones, zeros = tf.ones([channels]), tf.zeros([channels])
    outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
        flat, gamma if gamma is not None else ones, beta if beta is not None else zeros,
        epsilon=epsilon, is_training=True)
    # The op returns the Bessel-corrected variance; BatchNormalization's moving
    # average (and the fold) use the biased one.
    rows = tf.cast(tf.shape(flat)[2], variance.dtype)
    variance = variance * tf.maximum(rows - 1.0, 0.0) / tf.maximum(rows, 1.0)
    return tf.reshape(outputs, tf.shape(values)), mean, variance


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
