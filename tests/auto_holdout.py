"""auto's split of a calibration stream, computed independently of tfq: the
tests check tfq's auto against it."""
import numpy as np


def auto_split(data, batch):
    """auto's statistics batches (each batch of `batch` rows without its
    every-5th sample), its two held-back halves (those samples dealt
    alternately), and each half batched again at `batch`."""
    index = np.arange(len(data))
    held = index % 5 == 4
    statistics = [data[i:i + batch][~held[i:i + batch]] for i in range(0, len(data), batch)]
    halves = [data[held & ((index // 5) % 2 == half)] for half in (0, 1)]
    return statistics, halves, [[h[i:i + batch] for i in range(0, len(h), batch)]
                                for h in halves]
