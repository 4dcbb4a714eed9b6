"""Calibration observers: streaming statistics of one tensor, and the range
each calibration method derives from them. Pure numpy; O(bins) state.

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
  unsigned case); a two-sided tensor has about 128 per side, as in TensorRT. The threshold T then clips
  both ends: [max(min, -T), min(max, T)].
- mse: the range (each end of [min, max] shrunk toward 0 on its own, 50
  steps each) that minimizes the expected squared error over the histogram:
  clipping error outside plus (scale^2 / 12) per value inside.
"""
from __future__ import annotations

import numpy as np

# Signed bins over [-bound, bound]: folded, a 2048-bin histogram of |x| (TensorRT's).
HISTOGRAM_BINS = 4096
METHODS = ("minmax", "ema", "percentile", "entropy", "mse")


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

    def update(self, values) -> None:
        values = np.asarray(values, np.float64).ravel()
        if values.size == 0:
            return
        if not np.all(np.isfinite(values)):
            raise ValueError("calibration data produced NaN or infinite activations; "
                             "check the data (and its preprocessing) for NaN/inf")
        low, high = float(values.min()), float(values.max())
        self.min, self.max = min(self.min, low), max(self.max, high)
        if self.ema_min is None:
            self.ema_min, self.ema_max = low, high
        else:
            d = self.ema_decay
            self.ema_min = d * self.ema_min + (1 - d) * low
            self.ema_max = d * self.ema_max + (1 - d) * high
        self.count += values.size
        self._grow_to(max(abs(low), abs(high)))
        if self.bound > 0:
            counts, _ = np.histogram(values, bins=self.bins, range=(-self.bound, self.bound))
            self.histogram += counts

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

    def _absolute_histogram(self):
        """|x| histogram over [0, bound] with bins/2 bins (folds the signed one)."""
        half = self.bins // 2
        return self.histogram[half:] + self.histogram[:half][::-1]

    def _entropy_range(self):
        absolute = self._absolute_histogram().astype(np.float64)
        one_sided = self.min >= 0.0 or self.max <= 0.0
        levels = 256 if one_sided else 128
        threshold_bin = kl_threshold_bin(absolute, levels)
        threshold = threshold_bin * (self.bound / absolute.size)
        return max(self.min, -threshold), min(self.max, threshold)

    def _mse_range(self):
        edges = self._edges()
        centers = (edges[:-1] + edges[1:]) / 2
        weights = self.histogram.astype(np.float64)
        factors = np.linspace(0.02, 1.0, 50)
        best, best_error = (self.min, self.max), np.inf
        for low in min(self.min, 0.0) * factors:  # each end shrinks on its own
            for high in max(self.max, 0.0) * factors:
                if high - low <= 0:
                    continue
                scale = (high - low) / 255.0
                inside = (centers >= low) & (centers <= high)
                error = (np.sum(weights * (centers - np.clip(centers, low, high)) ** 2)
                         + weights[inside].sum() * scale**2 / 12.0)
                if error < best_error:
                    best, best_error = (float(low), float(high)), error
        return best


def kl_threshold_bin(histogram: np.ndarray, levels: int = 128, start_bin: int = 128) -> int:
    """TensorRT's entropy calibration on a histogram of |x|: returns the number
    of bins i (start_bin <= i <= bins) whose threshold (the upper edge of bin
    i-1) minimizes KL(P || Q); ties go to the wider threshold, as in NVIDIA's
    pytorch-quantization.

    P is bins 0..i-1 with the tail folded into bin i-1. Q merges the i bins
    into `levels` groups (bin j joins group k when k*i/levels <= j < (k+1)*i/levels)
    and spreads each group's mass evenly over its nonzero bins.
    """
    histogram = np.asarray(histogram, np.float64)
    bins = histogram.size
    if bins <= start_bin:
        return bins
    best_bin, best_divergence = bins, np.inf
    for i in range(start_bin, bins + 1):
        head = histogram[:i]
        reference = head.copy()
        reference[i - 1] += histogram[i:].sum()
        nonzero = head != 0
        groups = np.digitize(np.arange(i), np.linspace(0, i, levels + 1)) - 1
        group_mass = np.bincount(groups, weights=head, minlength=levels)
        group_used = np.bincount(groups, weights=nonzero, minlength=levels)
        per_bin = np.divide(group_mass, group_used, out=np.zeros(levels), where=group_used > 0)
        expanded = per_bin[groups] * nonzero
        divergence = _kl_divergence(reference, expanded)
        if divergence <= best_divergence:
            best_bin, best_divergence = i, divergence
    return best_bin


def _kl_divergence(p: np.ndarray, q: np.ndarray) -> float:
    p_total, q_total = p.sum(), q.sum()
    if p_total == 0 or q_total == 0:
        return np.inf
    p = p / p_total
    q = q / q_total
    mask = p > 0
    if np.any(q[mask] == 0):
        return np.inf
    return float(np.sum(p[mask] * np.log(p[mask] / q[mask])))
