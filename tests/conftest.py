"""Shared pytest set-up: quiet TensorFlow, seeded and deterministic runs."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# Deterministic kernels: training steps (QAT tests) give the same weights in
# every run and in any test order, so comparisons near rounding edges replay.
tf.config.experimental.enable_op_determinism()


@pytest.fixture
def rng():
    """A fresh, seeded generator per test: failures replay exactly."""
    return np.random.default_rng(20261122)
