"""One worker of a two-worker MultiWorkerMirroredStrategy QAT run on 127.0.0.1
(started twice by tests/test_quantize_distributed.py). Usage:
    multi_worker_qat.py FLAVOUR WORKER_INDEX PORT0 PORT1 OUTPUT_JSON
Writes every variable's values after training to OUTPUT_JSON."""
import json
import os
import sys

flavour_name, index, port0, port1, output_path = sys.argv[1:6]
os.environ["TF_CONFIG"] = json.dumps({
    "cluster": {"worker": [f"127.0.0.1:{port0}", f"127.0.0.1:{port1}"]},
    "task": {"type": "worker", "index": int(index)}})
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

strategy = tf.distribute.MultiWorkerMirroredStrategy()  # before any other TF work

from distributed_model import build_quantized_model  # noqa: E402

if flavour_name == "tf_keras":
    import tf_keras as K
else:
    import keras as K

K.utils.set_random_seed(0)
with strategy.scope():
    quantized = build_quantized_model(K)

rng = np.random.default_rng(0)
features = rng.normal(size=(64, 8, 8, 3)).astype(np.float32) * np.linspace(0.5, 2, 64)[:, None, None, None]
labels = rng.normal(size=(64, 2)).astype(np.float32)
dataset = tf.data.Dataset.from_tensor_slices((features, labels)).batch(16)
options = tf.data.Options()
options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
dataset = dataset.with_options(options)
if flavour_name == "tf_keras":
    quantized.fit(dataset, epochs=1, verbose=0)
else:
    # Keras 3.15's fit() cannot take a MultiWorkerMirroredStrategy dataset
    # (PerReplica inputs; a float model fails the same way): a custom loop.
    optimizer = K.optimizers.SGD()

    @tf.function
    def train_step(batch_x, batch_y):
        def replica_step(x_replica, y_replica):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(quantized(x_replica, training=True) - y_replica))
            variables = quantized.trainable_variables
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        strategy.run(replica_step, args=(batch_x, batch_y))

    for batch_x, batch_y in strategy.experimental_distribute_dataset(dataset):
        train_step(batch_x, batch_y)

with open(output_path, "w", encoding="utf-8") as handle:
    json.dump({variable.name + f"#{i}": np.asarray(variable).tolist()
               for i, variable in enumerate(quantized.weights)}, handle)
