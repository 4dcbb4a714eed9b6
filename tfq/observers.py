"""Calibration observers: streaming statistics of one tensor, and the range
each calibration method derives from them. O(bins) state in numpy; each
batch is first reduced by `summarize_batch` (TF ops, graph or eager).

Methods:
- minmax: the absolute min and max seen (what TFLiteConverter records).
- ema: a moving average of per-batch min and max (`decay`, default 0.9),
  less sensitive to one outlier batch.
- percentile: the `percentile` (default 99.99) and 100 - `percentile`
  quantiles of the signed histogram.
- entropy: TensorRT's KL method. The histogram is of |x| (2048 bins); for each
  candidate threshold bin i >= 128 the tail is folded into bin i-1 (P), bins
  0..i-1 are merged into `levels` groups and expanded back (Q), and the i with
  the smallest KL(P||Q) wins. Asymmetric int8 spends its 256 levels across
  [min, max]: a one-sided tensor (min >= 0 or max <= 0, e.g. after ReLU) gets
  all 256 levels on its side, so it is searched with 256 levels (TensorRT's
  unsigned case); a two-sided tensor has about 128 per side, as in TensorRT.
  The thresholds that would clip more than ENTROPY_MAX_CLIPPED (0.1 %) of
  the nonzero values are left out of the search (below). The threshold T
  then clips both ends: [max(min, -T), min(max, T)].
- mse: the range (each end of [min, max] shrunk toward 0 on its own, 50
  steps each) that minimizes the expected squared error over the histogram:
  clipping error outside plus (scale^2 / 12) per value inside.

entropy and mse leave exact zeros out of the histogram they search. Zero is
exactly representable at any range (TFLite nudges the zero point onto the
grid), so zeros cost nothing whatever the range. Left in, a ReLU's zeros (about
half its values) fill bin 0. Then any KL candidate wide enough to merge bin 0
with a neighbour spreads that spike over both and looks terrible, so the
search settles near `levels` bins, about 1/8 of the range. On a
MobileNet-style Fashion-MNIST model that clipped ReLU6 outputs from 6 to 0.7
and cost 36 points of accuracy; without the zeros it cost 7.

Those 7 points came from KL's own blind spot: P folds the clipped tail into
its last bin, and when that bin holds a large share of the mass, Q (whose
last group is only one or two bins wide) reproduces it almost exactly, so
KL stays small however much is clipped and however far. Where a tensor's
values are spread thinly below a dense top (a ReLU6 output with many values
near 6) or sit on a few discrete levels (the 17 gray levels of an 8x8 digit
input, 1/16 apart), the KL minimum clipped 12 % of a ReLU6 output (6 -> 1.1,
-6.6 points on Fashion-MNIST) and 93 % of a digits input (1 -> 0.06, the
accuracy down from 96 % to 15 %). On the bell-shaped tensors KL is made for,
its threshold clips 0.02-0.1 % of the values. So entropy searches only the
thresholds that clip at most ENTROPY_MAX_CLIPPED (0.1 %) of the nonzero
values: on those tensors TensorRT's threshold itself, elsewhere the best KL
threshold that does not clip a dense part of the tensor.
"""
from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

from tfq import training_ops

# Signed bins over [-bound, bound]: folded, a 2048-bin histogram of |x| (TensorRT's).
HISTOGRAM_BINS = 4096
METHODS = ("minmax", "ema", "percentile", "entropy", "mse")
HISTOGRAM_METHODS = ("percentile", "entropy", "mse")
# entropy's KL thresholds may clip at most this share of a tensor's nonzero
# values (see the module doc: KL cannot see how far it clips).
ENTROPY_MAX_CLIPPED = 1e-3


def summarize_batch(values, bound, bins: int = HISTOGRAM_BINS, with_histogram: bool = True):
    """One batch of a tensor reduced to what TensorObserver.merge needs, in TF
    ops (so calibration passes run in a tf.function): min, max, size, whether
    all values are finite, the observer's next bound (its current `bound`
    doubled until it covers the batch; the batch's max |x| if 0), the
    signed histogram over [-next bound, next bound] and its count of exact
    zeros."""
    values = tf.reshape(values, [-1])
    bound = tf.cast(bound, values.dtype)
    low, high = training_ops.batch_range(values)
    magnitude = tf.maximum(-low, high)
    doublings = tf.math.ceil(tf.math.log(magnitude / bound) / np.log(2.0))
    doublings = tf.maximum(tf.where(tf.math.is_finite(doublings), doublings, 0.0), 0.0)
    # Fix log rounding so that 2^doublings is the least power of 2 that covers.
    doublings = tf.where(bound * 2.0**doublings < magnitude, doublings + 1, doublings)
    doublings = tf.where((doublings > 0) & (bound * 2.0**(doublings - 1) >= magnitude),
                         doublings - 1, doublings)
    next_bound = tf.where(bound > 0, bound * 2.0**doublings, magnitude)
    # TF's min/max reductions propagate NaN (test_calibration checks it), so the
    # two ends tell whether the batch is finite without another pass over it.
    finite = tf.math.is_finite(low) & tf.math.is_finite(high)
    summary = {"min": low, "max": high, "size": tf.size(values), "finite": finite,
               "bound": next_bound}
    if with_histogram:
        safe = tf.where(next_bound > 0, next_bound, tf.ones_like(next_bound))
        # The histogram refuses NaN; merge() raises on such a batch anyway.
        summary["histogram"], summary["zeros"] = tf.cond(
            finite,
            lambda: training_ops.histogram(values, safe, bins),
            lambda: (tf.zeros([bins], tf.int64), tf.constant(0, tf.int64)))
    return summary


class TensorObserver:
    """Streaming min/max, per-batch EMA and a histogram of one tensor.

    The histogram covers [-bound, bound] with a fixed bin count; when a batch
    exceeds the bound, the bound doubles and existing counts merge pairwise,
    so the state stays O(bins) however much data streams through.
    """

    def __init__(self, *, bins: int = HISTOGRAM_BINS, ema_decay: float = 0.9):
        if bins < 256 or bins % 2:
            raise ValueError(f"bins must be an even number >= 256, got {bins}")
        self.bins = bins
        self.ema_decay = ema_decay
        self.min = np.inf
        self.max = -np.inf
        self.ema_min = None
        self.ema_max = None
        self.count = 0
        self.bound = 0.0
        self.histogram = np.zeros(bins, np.int64)  # over [-bound, bound]
        self.zeros = 0  # exact zeros, all counted in bin bins // 2 ([0, width))

    def update(self, values) -> None:
        """Adds a batch of values (numpy or tensor), summarized eagerly."""
        values = tf.convert_to_tensor(values)
        if tf.size(values) == 0:
            return
        bound = tf.constant(self.bound, values.dtype)
        self.merge({k: v.numpy() for k, v in summarize_batch(values, bound, self.bins).items()})

    def merge(self, summary) -> None:
        """Adds one batch's `summarize_batch` output (as numpy values)."""
        if not summary["finite"]:
            raise ValueError("calibration data produced NaN or infinite activations; "
                             "check the data (and its preprocessing) for NaN/inf")
        low, high = float(summary["min"]), float(summary["max"])
        self.min, self.max = min(self.min, low), max(self.max, high)
        if self.ema_min is None:
            self.ema_min, self.ema_max = low, high
        else:
            d = self.ema_decay
            self.ema_min = d * self.ema_min + (1 - d) * low
            self.ema_max = d * self.ema_max + (1 - d) * high
        self.count += int(summary["size"])
        self._grow_to(float(summary["bound"]))
        if "histogram" in summary and self.bound > 0:
            self.histogram += summary["histogram"]
            self.zeros += int(summary["zeros"])

    def _grow_to(self, magnitude: float) -> None:
        if magnitude <= self.bound:
            return
        if self.bound == 0.0:
            self.bound = magnitude
            return
        while self.bound < magnitude:
            # Merge pairs of bins into the middle half of a twice-wider grid.
            half = self.bins // 2
            merged = self.histogram.reshape(half, 2).sum(axis=1)
            self.histogram = np.zeros(self.bins, np.int64)
            self.histogram[half // 2: half // 2 + half] = merged
            self.bound *= 2.0

    # -- ranges -----------------------------------------------------------

    def range(self, method: str, **options):
        if self.count == 0:
            raise ValueError("no data was observed for this tensor")
        if method not in METHODS:
            raise ValueError(f"unknown calibration method {method!r}; expected one of {METHODS}")
        if method == "minmax":
            return self.min, self.max
        if method == "ema":
            return self.ema_min, self.ema_max
        if self.bound == 0.0:
            return 0.0, 0.0
        if method == "percentile":
            return self._percentile_range(options.get("percentile", 99.99))
        if method == "entropy":
            return self._entropy_range()
        return self._mse_range()

    def _edges(self):
        return np.linspace(-self.bound, self.bound, self.bins + 1)

    def _percentile_range(self, percentile: float):
        if not 50.0 < percentile <= 100.0:
            raise ValueError(f"percentile must be in (50, 100], got {percentile}")
        cumulative = np.cumsum(self.histogram) / self.histogram.sum()
        edges = self._edges()
        low_index = np.searchsorted(cumulative, (100.0 - percentile) / 100.0, side="left")
        high_index = np.searchsorted(cumulative, percentile / 100.0, side="left")
        low = max(self.min, float(edges[low_index]))
        high = min(self.max, float(edges[min(high_index + 1, self.bins)]))
        return low, high

    def _nonzero_histogram(self):
        """The signed histogram without the exact zeros (see the module doc)."""
        histogram = self.histogram.copy()
        histogram[self.bins // 2] -= self.zeros
        return histogram

    def _absolute_histogram(self):
        """|x| histogram of the nonzero values over [0, bound] with bins/2 bins
        (folds the signed one)."""
        half = self.bins // 2
        signed = self._nonzero_histogram()
        return signed[half:] + signed[:half][::-1]

    def _entropy_range(self):
        absolute = self._absolute_histogram().astype(np.float64)
        one_sided = self.min >= 0.0 or self.max <= 0.0
        levels = 256 if one_sided else 128
        threshold_bin = kl_threshold_bin(absolute, levels, max_clipped=ENTROPY_MAX_CLIPPED)
        threshold = float(np.linspace(0.0, self.bound, absolute.size + 1)[threshold_bin])
        return max(self.min, -threshold), min(self.max, threshold)

    def _mse_range(self):
        """Grid search over each end shrunk toward 0 (50 steps each). The
        clipping error of each end comes from prefix sums of w, w*c and w*c^2
        over the bin centers c, so the whole grid is a few array operations."""
        edges = self._edges()
        centers = (edges[:-1] + edges[1:]) / 2
        weights = self._nonzero_histogram().astype(np.float64)

        def prefix(values):
            return np.concatenate([[0.0], np.cumsum(values)])
        count, first, second = prefix(weights), prefix(weights * centers), \
            prefix(weights * centers**2)
        factors = np.linspace(0.02, 1.0, 50)
        lows, highs = min(self.min, 0.0) * factors, max(self.max, 0.0) * factors
        # sum over c < low of w (c - low)^2, and over c > high of w (c - high)^2
        below = np.searchsorted(centers, lows, side="left")
        above = np.searchsorted(centers, highs, side="right")
        low_error = second[below] - 2 * lows * first[below] + lows**2 * count[below]
        high_error = ((second[-1] - second[above]) - 2 * highs * (first[-1] - first[above])
                      + highs**2 * (count[-1] - count[above]))
        inside = count[-1] - count[below][:, np.newaxis] - (count[-1] - count[above])[np.newaxis]
        width = highs[np.newaxis, :] - lows[:, np.newaxis]
        error = (low_error[:, np.newaxis] + high_error[np.newaxis, :]
                 + inside * (width / 255.0) ** 2 / 12.0)
        error[width <= 0] = np.inf
        if not np.isfinite(error).any():
            return self.min, self.max
        a, b = np.unravel_index(np.argmin(error), error.shape)
        return float(lows[a]), float(highs[b])


def kl_threshold_bin(histogram: np.ndarray, levels: int = 128, start_bin: int = 128,
                     max_clipped: float | None = None) -> int:
    """TensorRT's entropy calibration on a histogram of |x|: returns the number
    of bins i (start_bin <= i <= bins) whose threshold (the upper edge of bin
    i-1) minimizes KL(P || Q); ties go to the wider threshold, as in NVIDIA's
    pytorch-quantization. `max_clipped` (a fraction of the count; None:
    TensorRT's unconstrained search) leaves out the thresholds that clip more.

    P is bins 0..i-1 with the tail folded into bin i-1. Q merges the i bins
    into `levels` groups (bin j joins group k when k*i/levels <= j < (k+1)*i/levels,
    the edges computed as np.linspace(0, i, levels + 1) computes them) and
    spreads each group's mass evenly over its nonzero bins.

    All candidates at once, from prefix sums: with T the total count and
    C(i) the count below bin i,
        KL = sum_j p_j log p_j - sum_groups (mass_k / T) log(mass_k / (used_k C(i)))
    minus the tail's share of the last bin's log q. Every candidate's groups
    at once are a (candidates x levels) array: about 7 ms for 256 levels.
    """
    h = np.asarray(histogram, np.float64)
    bins = h.size
    if bins <= start_bin:
        return bins
    candidates, starts, last_group = _kl_groups(bins, levels, start_bin)
    nonzero = h != 0
    below = np.concatenate([[0.0], np.cumsum(h)])  # below[j] = sum h[:j]
    nonzero_below = np.concatenate([[0.0], np.cumsum(nonzero, dtype=np.float64)])
    h_log_h = np.concatenate([[0.0], np.cumsum(np.where(nonzero, h * np.log(np.where(nonzero, h, 1)),
                                                        0.0))])
    total = below[-1]
    # One gather per prefix sum: group k of candidate c spans bins starts[c, k]..starts[c, k+1].
    mass = np.diff(below[starts], axis=1)
    used = np.diff(nonzero_below[starts], axis=1)
    filled = used > 0  # the same groups as mass > 0: counts are >= 0
    # log(mass_k / used_k) where filled, else 0; log q_k = that - log C(i).
    log_density = np.zeros_like(mass)
    np.divide(mass, used, out=log_density, where=filled)
    np.log(log_density, out=log_density, where=filled)
    head = below[candidates]  # Q's total mass
    tail = total - head
    last = h[candidates - 1]
    last_p = (last + tail) / total
    with np.errstate(divide="ignore", invalid="ignore"):
        log_head = np.log(head)
        p_log_p = ((h_log_h[candidates - 1] - below[candidates - 1] * np.log(total)) / total
                   + np.where(last_p > 0, last_p * np.log(last_p), 0.0))
        # sum_k mass_k log q_k = sum_k mass_k log(mass_k / used_k) - C(i) log C(i)
        p_log_q = (np.einsum("ij,ij->i", mass, log_density) - head * log_head) / total
        last_log_q = log_density[np.arange(candidates.size), last_group] - log_head
        p_log_q += np.where((tail > 0) & (last > 0), tail / total * last_log_q, 0.0)
        divergence = p_log_p - p_log_q
    divergence[(head == 0) | ((tail > 0) & (last == 0))] = np.inf  # Q empty, or P > 0 where Q = 0
    if max_clipped is not None:
        divergence[tail > max_clipped * total] = np.inf  # the widest candidate clips nothing
    last_minimum = candidates.size - 1 - int(np.argmin(divergence[::-1]))
    return int(candidates[last_minimum])


@functools.lru_cache(maxsize=8)
def _kl_groups(bins: int, levels: int, start_bin: int):
    """Data-independent part of kl_threshold_bin: the candidates i, each
    candidate's group start bins, and the group of its last bin (i-1)."""
    candidates = np.arange(start_bin, bins + 1)
    # Group edges exactly as np.linspace(0, i, levels + 1): k * (i / levels), last = i.
    edges = np.arange(levels + 1)[np.newaxis, :] * (candidates / levels)[:, np.newaxis]
    edges[:, -1] = candidates
    starts = np.ceil(edges).astype(np.int64)
    # The highest group starting at or before bin i-1.
    last_group = np.sum(starts[:, :-1] <= (candidates - 1)[:, np.newaxis], axis=1) - 1
    return candidates, starts, last_group
