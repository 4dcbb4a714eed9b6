"""What tfq.convert was given, loaded: a Keras model (Keras 3 or tf_keras) or
a generic SavedModel directory.

- a keras.Model / tf_keras.Model: as is;
- `.keras`: Keras 3's format;
- `.h5`: Keras 3 or tf_keras, by the `keras_version` the file records;
- a SavedModel directory with `keras_metadata.pb` (tf_keras `model.save`):
  loaded as a tf_keras model, so it takes the Keras path;
- any other SavedModel (Keras 3 `model.export`, `tf.saved_model.save` of a
  tf.Module): a generic graph, converted from its serving signature.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Optional

import keras

from tfq.quantize import quantize_scope


@dataclasses.dataclass
class Source:
    keras_model: Optional[object] = None  # a Keras model, or
    saved_model_dir: Optional[str] = None  # a generic SavedModel
    description: str = ""


def _is_keras_model(value) -> bool:
    if isinstance(value, keras.Model):
        return True
    try:
        import tf_keras  # pylint: disable=import-outside-toplevel
    except ImportError:
        return False
    return isinstance(value, tf_keras.Model)


def _h5_keras_version(path: str) -> str:
    import h5py  # pylint: disable=import-outside-toplevel
    try:
        with h5py.File(path, "r") as f:
            version = f.attrs.get("keras_version", "")
    except OSError as error:
        raise ValueError(f"{path!r} is not a readable HDF5 (.h5) Keras model: {error}") from error
    return version.decode() if isinstance(version, bytes) else str(version)


def _load(loader, path: str, kind: str):
    try:
        with quantize_scope():
            return loader(path)
    except (ValueError, TypeError, OSError, KeyError, ImportError, AttributeError) as error:
        raise ValueError(f"could not load {kind} {path!r}: {str(error).splitlines()[0]}") from error
    except Exception as error:  # TF raises its own errors on corrupt protos and checkpoints
        raise ValueError(f"could not load {kind} {path!r} ({type(error).__name__}: "
                         f"{str(error).splitlines()[0] if str(error) else 'corrupt file'})") \
            from error


def resolve(model_or_path) -> Source:
    if _is_keras_model(model_or_path):
        return Source(keras_model=model_or_path, description=f"Keras model {model_or_path.name!r}")
    if not isinstance(model_or_path, (str, os.PathLike)):
        raise TypeError(f"tfq.convert expects a Keras model or a path (.keras, .h5 or a "
                        f"SavedModel directory), got {type(model_or_path).__name__}")
    path = os.fspath(model_or_path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no model at {path!r}: give a .keras or .h5 file or a "
                                "SavedModel directory")
    if os.path.isdir(path):
        if not os.path.isfile(os.path.join(path, "saved_model.pb")):
            raise ValueError(f"{path!r} is a directory without saved_model.pb, so not a "
                             "SavedModel; give a SavedModel directory, a .keras or an .h5 file")
        if os.path.isfile(os.path.join(path, "keras_metadata.pb")):
            import tf_keras  # pylint: disable=import-outside-toplevel
            model = _load(lambda p: tf_keras.models.load_model(p, compile=False), path,
                          "tf_keras SavedModel")
            return Source(keras_model=model, description=f"tf_keras SavedModel {path!r}")
        return Source(saved_model_dir=path, description=f"SavedModel {path!r}")
    extension = os.path.splitext(path)[1].lower()
    if extension == ".keras":
        model = _load(lambda p: keras.models.load_model(p, compile=False), path, ".keras model")
        return Source(keras_model=model, description=f".keras model {path!r}")
    if extension in (".h5", ".hdf5"):
        if _h5_keras_version(path).startswith("3."):
            model = _load(lambda p: keras.models.load_model(p, compile=False), path, ".h5 model")
        else:
            import tf_keras  # pylint: disable=import-outside-toplevel
            model = _load(lambda p: tf_keras.models.load_model(p, compile=False), path,
                          "tf_keras .h5 model")
        return Source(keras_model=model, description=f".h5 model {path!r}")
    raise ValueError(f"unknown model file {path!r}: give a .keras or .h5 file or a SavedModel "
                     "directory")
