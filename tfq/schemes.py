"""Quantization schemes: how activations are fake-quantized. Weights are int8
symmetric in both; the wrappers, registry and transforms are shared.

- int8: asymmetric int8 activations (TFLite's default full-integer scheme).
- int16x8: symmetric int16 activations, int8 weights (TFLite's 16x8 mode,
  EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8).
"""
from __future__ import annotations

import dataclasses
from typing import Tuple

import tensorflow as tf

from tfq import training_ops

# The narrowest activation range tfq lets reach a .tflite (calibration widens
# narrower ones with a warning; QAT's fake-quant applies it too). TFLite
# cannot take near-zero scales: an int8 SOFTMAX whose input scale is ~1e-8
# aborts the process under BUILTIN_REF, and a fused RELU6 whose output scale
# is below 6 / 2^31 (in 16x8, a range under ~1e-4) fails TFLite's prepare
# with no_integer_overflow_from_quantization.
MIN_RANGE_WIDTH = 1e-3


@dataclasses.dataclass(frozen=True)
class Scheme:
    name: str
    activation_bits: int
    symmetric_activations: bool

    def fake_quant_fixed(self, values, range_min, range_max):
        """Fake-quant over a fixed range, taken as is (full storage range)."""
        return tf.quantization.fake_quant_with_min_max_vars(
            values, range_min, range_max, num_bits=self.activation_bits, narrow_range=False)

    def fake_quant_activations(self, values, range_min, range_max, *, training=False):
        """Fake-quant over a learned range: asymmetric int8 (0 kept inside the
        range, as TFLite needs 0 exact), or symmetric int16 over +-max|range|;
        at least MIN_RANGE_WIDTH wide either way (a range trained onto a dead
        channel would otherwise give TFLite a scale it cannot take). Training
        steps run it on tfq's kernels (training_ops); the result is the same."""
        range_min, range_max = self._stored_range(range_min, range_max)
        fake_quant = (training_ops.fake_quant if training else
                      tf.quantization.fake_quant_with_min_max_vars)
        return fake_quant(values, range_min, range_max, num_bits=self.activation_bits,
                          narrow_range=self.symmetric_activations)

    def activation_scale(self, range_min, range_max):
        """The scale TFLite gives a tensor whose learned range is [range_min, range_max]."""
        range_min, range_max = self._stored_range(range_min, range_max)
        steps = 2 ** self.activation_bits - (2 if self.symmetric_activations else 1)
        return (range_max - range_min) / steps

    def _stored_range(self, range_min, range_max):
        """The range a learned one becomes in the .tflite: 0 inside it, at
        least MIN_RANGE_WIDTH wide, +-max|range| when symmetric."""
        range_min = tf.minimum(tf.convert_to_tensor(range_min), 0.0)
        range_max = tf.maximum(tf.convert_to_tensor(range_max), range_min + MIN_RANGE_WIDTH)
        if self.symmetric_activations:
            bound = tf.maximum(tf.maximum(-range_min, range_max), MIN_RANGE_WIDTH / 2)
            return -bound, bound
        return range_min, range_max

    def fixed_output_range(self, activation: str) -> Tuple[float, float]:
        """TFLite's fixed output range of sigmoid / softmax / tanh in this scheme:
        int8 LOGISTIC/SOFTMAX (1/256, -128), TANH (1/128, 0); int16 all (1/32768, 0)."""
        if self.symmetric_activations:
            # [-1, 32767/32768] over 16 bits: scale exactly 2^-15, zero point 0.
            return -1.0, 32767.0 / 32768.0
        return {"sigmoid": (0.0, 255.0 / 256.0), "softmax": (0.0, 255.0 / 256.0),
                "tanh": (-1.0, 127.0 / 128.0)}[activation]


INT8 = Scheme("int8", 8, symmetric_activations=False)
INT16X8 = Scheme("int16x8", 16, symmetric_activations=True)
SCHEMES = {scheme.name: scheme for scheme in (INT8, INT16X8)}


def get(name: str) -> Scheme:
    if name not in SCHEMES:
        raise ValueError(f"unknown quantization scheme {name!r}; expected one of {sorted(SCHEMES)}")
    return SCHEMES[name]
