"""Real data of tfq's demo, benchmarks and accuracy tests, read offline:
Fashion-MNIST from Debian's dataset-fashion-mnist package (installed by
tools/bootstrap.sh), from its IDX files; scikit-learn's bundled 8x8 digits."""
from __future__ import annotations

import gzip
import os

import numpy as np

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
          "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot")


def _read_idx(path: str, magic: int, dims: int) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    header = np.frombuffer(data[:4 * (dims + 1)], ">u4")
    if header[0] != magic:
        raise ValueError(f"{path} is not an IDX file of the expected kind (magic {header[0]:#x})")
    return np.frombuffer(data[4 * (dims + 1):], np.uint8).reshape(tuple(header[1:]))


def fashion_mnist(split: str = "train", directory: str | None = None):
    """(images, labels): images float32 in [0, 1], shape (N, 28, 28, 1); labels int64.
    `directory` (or $TFQ_FASHION_MNIST_DIR) overrides the Debian location."""
    if split not in _FILES:
        raise ValueError(f"split must be one of {sorted(_FILES)}, got {split!r}")
    directory = directory or os.environ.get("TFQ_FASHION_MNIST_DIR", FASHION_MNIST_DIR)
    images_file, labels_file = (os.path.join(directory, name) for name in _FILES[split])
    if not os.path.exists(images_file):
        raise FileNotFoundError(
            f"Fashion-MNIST not found at {images_file}; install Debian's dataset-fashion-mnist "
            "package (bash tools/bootstrap.sh does) or set TFQ_FASHION_MNIST_DIR")
    images = _read_idx(images_file, 0x803, 3)
    labels = _read_idx(labels_file, 0x801, 1)
    return (images[..., np.newaxis].astype(np.float32) / 255.0, labels.astype(np.int64))


DIGITS_TEST_SIZE = 497  # 1,797 images: 1,300 to train on, 497 held out


def digits(split: str = "train"):
    """scikit-learn's bundled 8x8 handwritten digits (no download): (images,
    labels), images float32 in [0, 1], shape (N, 8, 8, 1); labels int64. A
    fixed seeded split: 1,300 "train", 497 "test". A small real data set for
    tests and benchmarks; needs scikit-learn (a test requirement)."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    try:
        from sklearn.datasets import load_digits  # pylint: disable=import-outside-toplevel
    except ImportError as error:
        raise ImportError("tfq.datasets.digits needs scikit-learn: pip install scikit-learn "
                          "(or install tfq with its [test] extra)") from error
    data = load_digits()
    order = np.random.default_rng(0).permutation(len(data.target))
    rows = order[:-DIGITS_TEST_SIZE] if split == "train" else order[-DIGITS_TEST_SIZE:]
    images = (data.images[rows] / 16.0).astype(np.float32)[..., np.newaxis]
    return images, data.target[rows].astype(np.int64)
