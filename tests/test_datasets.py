"""tfq.datasets: Fashion-MNIST read from Debian's package."""
import numpy as np
import pytest

from tfq import datasets


def test_fashion_mnist_test_split():
    images, labels = datasets.fashion_mnist("test")
    assert images.shape == (10000, 28, 28, 1) and images.dtype == np.float32
    assert 0.0 == images.min() and images.max() == 1.0
    assert np.array_equal(np.bincount(labels), np.full(10, 1000))
    assert len(datasets.CLASS_NAMES) == 10


def test_bad_split_and_missing_files(tmp_path):
    with pytest.raises(ValueError, match="split must be one of"):
        datasets.fashion_mnist("validation")
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        datasets.fashion_mnist("test", directory=str(tmp_path))
