"""QAT under tf.distribute.MirroredStrategy on two logical CPUs (run by
tests/test_quantize_distributed.py in a child process: logical devices must be
configured before TensorFlow starts). Prints one JSON line: per-replica
differences of every variable after training."""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from distributed_model import build_quantized_model  # noqa: E402


def main(flavour_name):
    if flavour_name == "tf_keras":
        import tf_keras as K
    else:
        import keras as K
    K.utils.set_random_seed(0)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        quantized = build_quantized_model(K)
    rng = np.random.default_rng(0)
    # Replicas see different halves of each batch, so their local ranges differ.
    x = rng.normal(size=(32, 8, 8, 3)).astype(np.float32) * np.linspace(0.5, 2, 32)[:, None, None, None]
    y = rng.normal(size=(32, 2)).astype(np.float32)
    quantized.fit(x, y, batch_size=16, epochs=1, verbose=0)
    spread = {}
    for variable in quantized.weights:
        values = getattr(variable, "values", None)  # MirroredVariable: one value per replica
        if values is None:
            inner = getattr(variable, "value", None)
            values = getattr(inner, "values", None) if inner is not None else None
        if values is None:
            raise SystemExit(f"variable {variable.name} is not mirrored")
        arrays = [np.asarray(v) for v in values]
        spread[variable.name] = float(max(np.max(np.abs(a - arrays[0])) for a in arrays))
    ranges = [w for w in quantized.weights if "output_max" in w.name]
    print(json.dumps({"replicas": strategy.num_replicas_in_sync, "spread": spread,
                      "trained_range": float(np.asarray(ranges[0]))}))


if __name__ == "__main__":
    main(sys.argv[1])
