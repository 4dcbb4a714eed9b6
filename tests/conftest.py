"""Shared pytest set-up: quiet TensorFlow, seeded randomness."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest


@pytest.fixture
def rng():
    """A fresh, seeded generator per test: failures replay exactly."""
    return np.random.default_rng(20261122)
