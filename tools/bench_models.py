"""Writes the models the speed benchmarks run, as .tflite files converted by
tfq from random-weight Keras models (no pretrained weights are reachable):

  mobilenet_style_16x8.tflite  tools/models.mobilenet_style, 96x96x3, int16x8
  audio_conv1d_16x8.tflite     tools/models.audio_conv1d_style, 400x40, int16x8
  mobilenet_v2_int8.tflite     keras.applications.MobileNetV2 224x224, int8, logits out
  resnet50_int8.tflite         keras.applications.ResNet50 224x224, int8, logits out
  fashion_demo_int8.tflite     the Fashion-MNIST demo's net (tools/models.fashion_mnist_net),
                               28x28x1, int8

    .venv/bin/python -m tfq_tools.bench_models --out_dir=/tmp/bench [--models=a,b]

then `tfq-bench --model=/tmp/bench/<name>.tflite --num_threads=1,2`.
Calibration: 32 seeded random samples (the speed does not depend on them).
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS


def _builders(keras):
    from tfq_tools import models  # pylint: disable=import-outside-toplevel

    return {
        "mobilenet_style_16x8": (lambda: models.mobilenet_style(keras, (96, 96, 3)), "int16x8"),
        "audio_conv1d_16x8": (lambda: models.audio_conv1d_style(keras), "int16x8"),
        # Logits out: a random-weight net's softmax rows are flat, and rows with
        # 512+ values at their max abort TFLite's reference SOFTMAX.
        "mobilenet_v2_int8": (lambda: keras.applications.MobileNetV2(
            weights=None, classifier_activation=None), "int8"),
        "resnet50_int8": (lambda: keras.applications.ResNet50(
            weights=None, classifier_activation=None), "int8"),
        "fashion_demo_int8": (lambda: models.fashion_mnist_net(keras), "int8"),
    }


MODEL_NAMES = ["mobilenet_style_16x8", "audio_conv1d_16x8", "mobilenet_v2_int8",
               "resnet50_int8", "fashion_demo_int8"]


def define_flags():
    flags.DEFINE_string("out_dir", None, "Directory the .tflite files are written to.")
    flags.mark_flag_as_required("out_dir")
    flags.DEFINE_list("models", MODEL_NAMES, f"Which models to write, from {MODEL_NAMES}.")


def write_models(out_dir, names):
    import keras  # pylint: disable=import-outside-toplevel  (slow)
    import numpy as np  # pylint: disable=import-outside-toplevel
    import tfq  # pylint: disable=import-outside-toplevel

    builders = _builders(keras)
    unknown = [name for name in names if name not in builders]
    if unknown:
        raise app.UsageError(f"--models: unknown {unknown}; choose from {MODEL_NAMES}")
    os.makedirs(out_dir, exist_ok=True)
    for name in names:
        build, mode = builders[name]
        keras.utils.set_random_seed(0)
        model = build()
        shape = (32,) + tuple(model.inputs[0].shape[1:])
        samples = np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32)
        data = tfq.convert(model, mode=mode, representative_data=samples, progress=False)
        path = os.path.join(out_dir, name + ".tflite")
        with open(path + ".part", "wb") as f:
            f.write(data)
        os.replace(path + ".part", path)  # never a half-written model
        print(f"{path}: {len(data)} bytes")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    write_models(FLAGS.out_dir, FLAGS.models)


if __name__ == "__main__":
    define_flags()
    app.run(main)
