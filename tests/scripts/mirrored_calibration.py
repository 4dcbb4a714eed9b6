"""tfq.calibrate under tf.distribute.MirroredStrategy on two logical CPUs (run
by tests/test_calibration.py in a child process: logical devices must be
configured before TensorFlow starts). Calibrates one model under the strategy
and the same model without it; prints one JSON line with both results and the
replica spread of every range variable."""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import tfq  # noqa: E402
from distributed_model import build_quantized_model  # noqa: E402


def main(flavour_name, method):
    K = __import__("tf_keras" if flavour_name == "tf_keras" else "keras")
    rng = np.random.default_rng(0)
    # Rows differ in scale, so each replica's half of a batch has its own range.
    x = (rng.normal(size=(64, 8, 8, 3)) * np.linspace(0.2, 3, 64)[:, None, None, None]
         ).astype(np.float32)
    K.utils.set_random_seed(0)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        distributed = build_quantized_model(K)
    K.utils.set_random_seed(0)
    single = build_quantized_model(K)
    merged = tfq.calibrate(distributed, x, method=method, batch_size=4, progress=False)
    alone = tfq.calibrate(single, x, method=method, batch_size=4, progress=False)
    spread = {}
    for variable in distributed.weights:
        if not variable.name.endswith(("_min", "_max", "_min:0", "_max:0")):
            continue
        values = getattr(variable, "values", None)  # MirroredVariable: one value per replica
        if values is None:
            values = getattr(getattr(variable, "value", None), "values", None)
        if values is None:
            raise SystemExit(f"range variable {variable.name} is not mirrored")
        spread[getattr(variable, "path", variable.name)] = float(np.abs(values[0].numpy() - values[1].numpy()))
    print(json.dumps({"replicas": merged.replicas, "merged": list(merged.ranges.values()),
                      "single": list(alone.ranges.values()), "spread": spread,
                      "merged_chosen": list(merged.chosen.values()),
                      "single_chosen": list(alone.chosen.values()),
                      "merged_output_errors": merged.output_errors,
                      "single_output_errors": alone.output_errors}))


if __name__ == "__main__":
    main(*sys.argv[1:])
