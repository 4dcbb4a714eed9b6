"""Fashion-MNIST from Debian's dataset-fashion-mnist package (installed by
tools/bootstrap.sh): the real data of tfq's demo, benchmarks and accuracy
tests, read offline from its IDX files."""
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
