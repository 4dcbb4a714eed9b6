"""Which Keras layers tfq quantizes, and how: a declarative table.

Each entry says how a layer's quantized forward pass is computed and whether
its output gets its own activation range:
- WEIGHTED: the layer's math redone on TF ops with fake-quantized weights,
  then its fused activation, then an output range.
- OUTPUT: the layer's own call, then an output range.
- SAME_SCALE: the layer's own call and no new range. TFLite requires these
  ops (pooling, reshapes, padding, dropout) to keep their input's scale.
- Activations with a fixed TFLite output range (sigmoid, softmax, tanh) get
  that range instead of a learned one.
Custom layers: `register_layer("MyLayer", OUTPUT)` (or SAME_SCALE).
"""
from __future__ import annotations

import dataclasses
import enum
from typing import Callable, Dict, Optional, Tuple

import tensorflow as tf

from tfq import quantizers


class Handling(enum.Enum):
    WEIGHTED = "weighted"
    OUTPUT = "output"
    SAME_SCALE = "same_scale"


# Layers whose inputs TFLite gives the output's scale: the producers of those
# inputs get no range of their own (the converter propagates this one back).
SHARES_INPUT_RANGES = ("Concatenate",)

# Activations with a fixed TFLite output range (schemes.Scheme.fixed_output_range).
FIXED_RANGE_ACTIVATIONS = ("sigmoid", "softmax", "tanh")


def _kernel(layer):
    for name in ("kernel", "depthwise_kernel"):
        if getattr(layer, name, None) is not None:
            return getattr(layer, name)
    raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}) has no kernel")


def bias_of(layer):
    """The layer's bias as a tensor, or None."""
    if getattr(layer, "use_bias", False) and getattr(layer, "bias", None) is not None:
        return tf.convert_to_tensor(layer.bias)
    return None


def kernel_of(layer):
    """The kernel a WEIGHTED forward takes (SeparableConv2D: the pointwise one)."""
    if type(layer).__name__ == "SeparableConv2D":
        return tf.convert_to_tensor(layer.pointwise_kernel)
    return tf.convert_to_tensor(_kernel(layer))


def _padding(layer):
    padding = layer.padding.upper()
    if padding not in ("SAME", "VALID"):
        raise ValueError(f"layer {layer.name!r}: padding={layer.padding!r} is not supported by "
                         "tfq yet; use 'same' or 'valid', or pass it in skip_layers")
    return padding


def _check_channels_last(layer):
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise ValueError(f"layer {layer.name!r}: data_format='channels_first' does not map to "
                         "TFLite (NHWC); build the model channels_last")


@dataclasses.dataclass(frozen=True)
class WeightOptions:
    """How a WEIGHTED forward treats its weights."""
    quantize: bool
    per_channel: bool
    # Fake-quant for a tensor inside the layer that TFLite materializes
    # (SeparableConv2D's depthwise output); identity when not quantizing.
    intermediate: Callable = lambda values: values
    # Applied to the (fake-quantized) kernel just before the op: the wrapper
    # undoes its BatchNormalization fold here while training, on the small
    # kernel rather than on the full-size output.
    unfold: Callable = lambda kernel: kernel


# WEIGHTED forwards: (layer, inputs, kernel, options) -> outputs before bias.
# The kernel comes from the wrapper (the layer's, or folded with its
# BatchNormalization); each op fake-quantizes it the way TFLite will hold it.

def _dense(layer, inputs, kernel, options):
    # Per-tensor: per-channel Dense fake-quant does not convert (see notes).
    if options.quantize:
        kernel = quantizers.fake_quant_weights(kernel, per_channel=False)
    kernel = options.unfold(kernel)
    if inputs.shape.rank == 2:
        return tf.matmul(inputs, kernel)  # what the converter maps to FULLY_CONNECTED
    return tf.tensordot(inputs, kernel, axes=[[-1], [0]])


def _conv2d_op(inputs, kernel, *, strides, padding, dilations):
    """tf.nn.conv2d, trainable when dilated on any CPU.

    The forward is one dilated Conv2D, which the converter maps to one
    CONV_2D (tf.nn.convolution's space-to-batch form would convert to
    SPACE_TO_BATCH_ND / float CONV_2D / BATCH_TO_SPACE_ND around the
    fake-quant). Its gradient, which TF's CPU kernels lack for dilations
    without oneDNN, is taken from the equivalent space-to-batch form.
    """
    if all(d == 1 for d in dilations):
        return tf.nn.conv2d(inputs, kernel, strides=strides, padding=padding)

    @tf.custom_gradient
    def dilated(inputs, kernel):
        def gradient(upstream):
            with tf.GradientTape() as tape:
                tape.watch([inputs, kernel])
                outputs = tf.nn.convolution(inputs, kernel, strides=strides, padding=padding,
                                            dilations=dilations)
            return tape.gradient(outputs, [inputs, kernel], output_gradients=upstream)
        return tf.nn.conv2d(inputs, kernel, strides=strides, padding=padding,
                            dilations=dilations), gradient

    return dilated(inputs, kernel)


def _conv2d(layer, inputs, kernel, options):
    _check_channels_last(layer)
    if getattr(layer, "groups", 1) != 1:
        raise ValueError(f"layer {layer.name!r}: grouped Conv2D (groups={layer.groups}) is not "
                         "supported by tfq yet; pass it in skip_layers")
    if options.quantize:
        kernel = quantizers.fake_quant_weights(kernel, per_channel=options.per_channel)
    kernel = options.unfold(kernel)
    return _conv2d_op(inputs, kernel, strides=list(layer.strides), padding=_padding(layer),
                      dilations=list(layer.dilation_rate))


def _conv1d(layer, inputs, kernel, options):
    """As the 1xK CONV_2D TFLite runs: the kernel is made 4-D before its
    fake-quant, so the per-channel axis is the one the converter keeps."""
    _check_channels_last(layer)
    kernel = kernel[tf.newaxis]
    if options.quantize:
        kernel = quantizers.fake_quant_weights(kernel, per_channel=options.per_channel)
    kernel = options.unfold(kernel)
    # expand_dims, not inputs[:, tf.newaxis]: a slice converts to a STRIDED_SLICE.
    outputs = _conv2d_op(tf.expand_dims(inputs, 1), kernel, strides=[1, layer.strides[0]],
                         padding=_padding(layer), dilations=[1, layer.dilation_rate[0]])
    return tf.squeeze(outputs, axis=1)


def _depthwise_conv2d(layer, inputs, kernel, options):
    _check_channels_last(layer)
    if options.quantize:
        kernel = (quantizers.fake_quant_depthwise_weights(kernel) if options.per_channel else
                  quantizers.fake_quant_weights(kernel, per_channel=False))
    kernel = options.unfold(kernel)
    return tf.nn.depthwise_conv2d(inputs, kernel, strides=[1, *layer.strides, 1],
                                  padding=_padding(layer), dilations=list(layer.dilation_rate))


def _separable_conv2d(layer, inputs, kernel, options):
    """TFLite runs it as DEPTHWISE_CONV_2D then a 1x1 CONV_2D; the tensor
    between them is real and gets its own range. `kernel` is the pointwise one
    (what a following BatchNormalization folds into)."""
    _check_channels_last(layer)
    depthwise = tf.convert_to_tensor(layer.depthwise_kernel)
    if options.quantize:
        depthwise = quantizers.fake_quant_depthwise_weights(depthwise)
    hidden = tf.nn.depthwise_conv2d(inputs, depthwise, strides=[1, *layer.strides, 1],
                                    padding=_padding(layer), dilations=list(layer.dilation_rate))
    hidden = options.intermediate(hidden)
    return _conv2d_pointwise(hidden, kernel, options)


def _conv2d_pointwise(inputs, kernel, options):
    if options.quantize:
        kernel = quantizers.fake_quant_weights(kernel, per_channel=options.per_channel)
    kernel = options.unfold(kernel)
    return tf.nn.conv2d(inputs, kernel, strides=1, padding="VALID")


def _conv2d_transpose(layer, inputs, kernel, options):
    """TRANSPOSE_CONV. The Keras kernel is [h, w, out, in] (TFLite's output
    channel axis is Keras axis 2)."""
    _check_channels_last(layer)
    if getattr(layer, "output_padding", None) is not None or tuple(layer.dilation_rate) != (1, 1):
        raise ValueError(f"layer {layer.name!r}: Conv2DTranspose with output_padding or "
                         "dilation is not supported by tfq yet; pass it in skip_layers")
    if options.quantize:
        # Per-tensor always: a per-channel fake-quant along Keras axis 2 reaches
        # the converter through a transpose, which it refuses ("tfl.transpose op
        # has mismatched quantized axes"), as it does for per-channel Dense.
        kernel = quantizers.fake_quant_weights(kernel, per_channel=False)
    kernel = options.unfold(kernel)
    padding = _padding(layer)
    (k_h, k_w), (s_h, s_w) = kernel.shape[:2], layer.strides
    height, width = inputs.shape[1], inputs.shape[2]
    if padding == "SAME":
        out_h, out_w = height * s_h, width * s_w
    else:
        out_h, out_w = height * s_h + max(k_h - s_h, 0), width * s_w + max(k_w - s_w, 0)
    output_shape = tf.stack([tf.shape(inputs)[0], out_h, out_w, kernel.shape[2]])
    return tf.nn.conv2d_transpose(inputs, kernel, output_shape, strides=[1, s_h, s_w, 1],
                                  padding=padding)


def scale_output_channels(layer, kernel, scale):
    """kernel * scale per output channel (DepthwiseConv2D: channel = in x multiplier)."""
    if type(layer).__name__ == "DepthwiseConv2D":
        return kernel * tf.reshape(scale, kernel.shape[-2:])
    return kernel * scale


def weight_scales(layer, kernel, per_channel: bool):
    """The scales of the int8 weights TFLite holds for `kernel` (the kernel a
    WEIGHTED forward takes): one per output channel, or one scalar where the
    forward quantizes per tensor (Dense, Conv2DTranspose, per_channel=False)."""
    name = type(layer).__name__
    if not per_channel or name in ("Dense", "Conv2DTranspose"):
        return quantizers.weight_bound(kernel, per_channel=False) / 127.0
    if name == "DepthwiseConv2D":
        kernel = quantizers.depthwise_channels(kernel)
    return quantizers.weight_bound(kernel, per_channel=True) / 127.0


def separable_depthwise_weight_scales(layer):
    """Per-channel scales of a SeparableConv2D's depthwise weights (always
    per-channel, as _separable_conv2d quantizes them)."""
    return quantizers.weight_bound(quantizers.depthwise_channels(layer.depthwise_kernel),
                                   per_channel=True) / 127.0


def _upsampling2d(layer, inputs):
    """A resize, which TFLite runs as RESIZE_NEAREST_NEIGHBOR / RESIZE_BILINEAR
    (Keras 3's own repeat-based nearest upsampling becomes TILE)."""
    _check_channels_last(layer)
    height, width = inputs.shape[1], inputs.shape[2]
    size = [height * layer.size[0], width * layer.size[1]]
    if layer.interpolation not in ("nearest", "bilinear"):
        raise ValueError(f"layer {layer.name!r}: UpSampling2D interpolation="
                         f"{layer.interpolation!r} has no int8 TFLite op; use 'nearest' or "
                         "'bilinear', or pass it in skip_layers")
    return tf.cast(tf.image.resize(inputs, size, method=layer.interpolation), inputs.dtype)


# Layer class name -> (handling, forward on TF ops; None = the layer's own call).
_REGISTRY: Dict[str, Tuple[Handling, Optional[Callable]]] = {
    "Dense": (Handling.WEIGHTED, _dense),
    "Conv1D": (Handling.WEIGHTED, _conv1d),
    "Conv2D": (Handling.WEIGHTED, _conv2d),
    "DepthwiseConv2D": (Handling.WEIGHTED, _depthwise_conv2d),
    "SeparableConv2D": (Handling.WEIGHTED, _separable_conv2d),
    "Conv2DTranspose": (Handling.WEIGHTED, _conv2d_transpose),
    "ReLU": (Handling.OUTPUT, None),
    "LeakyReLU": (Handling.OUTPUT, None),
    "Activation": (Handling.OUTPUT, None),
    "Softmax": (Handling.OUTPUT, None),
    "Add": (Handling.OUTPUT, None),
    "Subtract": (Handling.OUTPUT, None),
    "Multiply": (Handling.OUTPUT, None),
    "Concatenate": (Handling.OUTPUT, None),
    "GlobalAveragePooling2D": (Handling.OUTPUT, None),
    "GlobalAveragePooling1D": (Handling.OUTPUT, None),
    "MaxPooling2D": (Handling.SAME_SCALE, None),
    "MaxPooling1D": (Handling.SAME_SCALE, None),
    "AveragePooling2D": (Handling.SAME_SCALE, None),
    "AveragePooling1D": (Handling.SAME_SCALE, None),
    "ZeroPadding2D": (Handling.SAME_SCALE, None),
    "ZeroPadding1D": (Handling.SAME_SCALE, None),
    "Reshape": (Handling.SAME_SCALE, None),
    "Flatten": (Handling.SAME_SCALE, None),
    "Dropout": (Handling.SAME_SCALE, None),
    "UpSampling2D": (Handling.SAME_SCALE, _upsampling2d),
    "Identity": (Handling.SAME_SCALE, None),
}


def can_fold_batch_norm(producer, batch_norm) -> bool:
    """A WEIGHTED layer with no activation feeding a last-axis BatchNormalization.
    (Not Conv2DTranspose yet: its folded form missed the 2-LSB bound in tests.)"""
    entry = _REGISTRY.get(type(producer).__name__)
    return (entry is not None and entry[0] is Handling.WEIGHTED and
            has_fusable_activation(producer) and
            type(producer).__name__ != "Conv2DTranspose" and
            getattr(producer.activation, "__name__", "linear") == "linear" and
            type(batch_norm).__name__ == "BatchNormalization" and
            batch_norm.axis in (-1, [-1], (-1,), len(producer.output.shape) - 1,
                                [len(producer.output.shape) - 1]))


def register_layer(class_name: str, handling: Handling) -> None:
    """Declares how tfq treats a custom layer class (OUTPUT or SAME_SCALE)."""
    if handling is Handling.WEIGHTED:
        raise ValueError("register_layer: WEIGHTED layers need a quantized forward pass; "
                         "register OUTPUT or SAME_SCALE, or keep the layer float via skip_layers")
    _REGISTRY[class_name] = (handling, None)


def lookup(layer) -> Tuple[Handling, Optional[Callable]]:
    """The entry for `layer`'s class; ValueError naming the layer and the ways out."""
    entry = _REGISTRY.get(type(layer).__name__)
    if entry is None:
        raise ValueError(
            f"layer {layer.name!r} of class {type(layer).__name__} is not supported by "
            f"tfq.quantize_model; pass skip_layers=[{layer.name!r}] to keep it float, or "
            f"declare it with tfq.registry.register_layer({type(layer).__name__!r}, "
            "tfq.registry.Handling.OUTPUT)")
    return entry


# Activations TFLite fuses into CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED:
# one output range after them. Any other activation is a TFLite op of its own,
# so the pre-activation tensor needs a range too.
FUSABLE_ACTIVATIONS = ("linear", "relu", "relu6")


def has_fusable_activation(layer) -> bool:
    activation = getattr(layer, "activation", None)
    return activation is None or getattr(activation, "__name__", None) in FUSABLE_ACTIVATIONS


# TFLite ops that take a fused activation: a following ReLU/ReLU6 layer
# becomes part of them, so they get no output range of their own.
TAKES_FUSED_ACTIVATION = ("Dense", "Conv1D", "Conv2D", "DepthwiseConv2D", "SeparableConv2D",
                          "Add", "Subtract", "Multiply")


def is_fusable_activation_layer(layer) -> bool:
    """A ReLU / ReLU6 layer the converter folds into the op before it."""
    return (type(layer).__name__ in ("ReLU", "Activation") and
            relu_upper_bound(layer) in (float("inf"), 6.0))


def relu_upper_bound(layer):
    """The upper clamp (6.0, or inf) if `layer` ends in a plain ReLU / ReLU6
    (a ReLU layer, an Activation, or an `activation=` argument), else None."""
    if type(layer).__name__ == "ReLU":
        if layer.negative_slope or layer.threshold:
            return None
        return float("inf") if layer.max_value is None else float(layer.max_value)
    name = getattr(getattr(layer, "activation", None), "__name__", None)
    return {"relu": float("inf"), "relu6": 6.0}.get(name)


def fixed_range_activation(layer):
    """"sigmoid" / "softmax" / "tanh" if `layer` ends in one (TFLite fixes its
    output range), else None."""
    if type(layer).__name__ == "Softmax":
        return "softmax"
    name = getattr(getattr(layer, "activation", None), "__name__", None)
    return name if name in FIXED_RANGE_ACTIVATIONS else None
