"""Calibration data in every form a TF user has it, as batches of model inputs.

Accepted: a numpy array (one input), a list/tuple of arrays (several inputs,
in model input order), a dict {input name: array}, a tf.data.Dataset (batched
or not; (x, y) elements use x), a generator or a callable returning one in the
TFLiteConverter `representative_dataset` style (each item a list of arrays or
one array, usually a batch of 1), or a directory of images (decoded, resized to
the model's input size, scaled to [0, 1]).
"""
from __future__ import annotations

import os
from typing import Iterator, List, Optional

import numpy as np
import tensorflow as tf

_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def _input_shapes(model) -> List[tuple]:
    return [tuple(t.shape[1:]) for t in model.inputs]


def _input_names(model) -> List[str]:
    return [t.name.split(":")[0] for t in model.inputs]


def _as_inputs(model, item) -> list:
    """One element -> a list of arrays, one per model input, batch axis added if missing."""
    if isinstance(item, tuple) and len(item) == 2 and len(model.inputs) == 1 and \
            not isinstance(item[0], (list, tuple)):
        item = item[0]  # (features, labels)
    if isinstance(item, dict):
        names = _input_names(model)
        missing = [n for n in names if n not in item]
        if missing:
            raise ValueError(f"calibration data dict lacks model inputs {missing}; "
                             f"its keys are {sorted(item)}")
        item = [item[n] for n in names]
    arrays = [np.asarray(a) for a in (item if isinstance(item, (list, tuple)) else [item])]
    if len(arrays) != len(model.inputs):
        raise ValueError(f"calibration data gives {len(arrays)} arrays per element, the model "
                         f"has {len(model.inputs)} inputs")
    batched = []
    for array, shape, name in zip(arrays, _input_shapes(model), _input_names(model)):
        if array.ndim == len(shape):
            array = array[np.newaxis]
        if array.ndim != len(shape) + 1 or any(
                want is not None and got != want for got, want in zip(array.shape[1:], shape)):
            expected = "(batch, " + ", ".join("any" if d is None else str(d) for d in shape) + ")"
            raise ValueError(f"calibration data of shape {array.shape} does not match the model "
                             f"input {name!r}, which expects {expected}")
        if array.dtype.kind not in "biuf":
            raise TypeError(f"calibration data for model input {name!r} has dtype {array.dtype}; "
                            "it must be numeric (it is fed to the float model as float32)")
        batched.append(array.astype(np.float32, copy=False))
    return batched


def _image_directory(model, path) -> Iterator[list]:
    (shape,) = _input_shapes(model)
    files = sorted(os.path.join(root, name) for root, _, names in os.walk(path)
                   for name in names if name.lower().endswith(_IMAGE_EXTENSIONS))
    if not files:
        raise ValueError(f"calibration directory {path!r} holds no images "
                         f"({', '.join(_IMAGE_EXTENSIONS)})")
    for file in files:
        image = tf.io.decode_image(tf.io.read_file(file), channels=shape[-1],
                                   expand_animations=False)
        image = tf.image.resize(tf.cast(image, tf.float32) / 255.0, shape[:2])
        yield [image.numpy()[np.newaxis]]


def batches(model, data, *, batch_size: int = 32, num_samples: Optional[int] = None):
    """Yields lists of arrays (one per model input), at most `num_samples` rows in all."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if isinstance(data, (str, os.PathLike)):
        if not os.path.isdir(data):
            raise ValueError(f"calibration data path {data!r} is not a directory of images")
        source = _image_directory(model, data)
    elif isinstance(data, np.ndarray) or (isinstance(data, (list, tuple)) and data and
                                          all(isinstance(a, np.ndarray) for a in data)
                                          and len(model.inputs) > 1) or isinstance(data, dict):
        arrays = _as_inputs(model, data)
        total = arrays[0].shape[0]
        source = ([a[i:i + batch_size] for a in arrays] for i in range(0, total, batch_size))
    elif isinstance(data, tf.data.Dataset):
        source = (_as_inputs(model, tf.nest.map_structure(np.asarray, item))
                  for item in data.as_numpy_iterator())
    elif callable(data):
        source = (_as_inputs(model, item) for item in data())
    elif hasattr(data, "__iter__"):
        source = (_as_inputs(model, item) for item in data)
    else:
        raise TypeError(f"unsupported calibration data of type {type(data).__name__}; pass an "
                        "array, a list of arrays, a dict, a tf.data.Dataset, a generator or "
                        "a directory of images")
    seen = 0
    for batch in source:
        if num_samples is not None:
            if seen >= num_samples:
                return
            batch = [a[:num_samples - seen] for a in batch]
        seen += batch[0].shape[0]
        yield batch
    if seen == 0:
        raise ValueError("calibration data is empty")
