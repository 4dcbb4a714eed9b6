"""Distributed quantization-aware training: MultiWorkerMirroredStrategy with
two worker processes on this machine (127.0.0.1), then one int8 .tflite.

    .venv/bin/python examples/distributed_qat.py [--train_images=60000]

This script starts itself twice as the workers (TF_CONFIG names both); each
builds the QAT model (trained from scratch here) under the strategy and
trains on its shard of every batch with tf_keras's `model.fit` (the strategy
all-reduces gradients, and
tfq merges the replicas' activation ranges and BatchNormalization
statistics). Worker 0, the chief, converts the result. Exits non-zero unless
both workers end with the same weights and ranges and the .tflite agrees
with the QAT model on at least 99 % of the test images.
"""
import hashlib
import json
import os
import socket
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

import qat_keras3  # noqa: E402  (its small CNN and report)

FLAGS = flags.FLAGS
flags.DEFINE_integer("worker", None, "Internal: run as this worker (0 or 1).")
flags.DEFINE_list("ports", None, "Internal: the two workers' ports.")
FLAGS.set_default("output", "distributed_qat.tflite")


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for handle in sockets:
        handle.bind(("127.0.0.1", 0))
    ports = [handle.getsockname()[1] for handle in sockets]
    for handle in sockets:
        handle.close()
    return ports


def run_worker():
    os.environ["TF_CONFIG"] = json.dumps({
        "cluster": {"worker": [f"127.0.0.1:{port}" for port in FLAGS.ports]},
        "task": {"type": "worker", "index": FLAGS.worker}})
    import numpy as np
    import tensorflow as tf
    strategy = tf.distribute.MultiWorkerMirroredStrategy()  # before any other TF work
    import tf_keras
    import tfq
    from tfq.datasets import fashion_mnist

    tf_keras.utils.set_random_seed(0)
    images, labels = fashion_mnist("train")
    images, labels = images[:FLAGS.train_images], labels[:FLAGS.train_images]
    with strategy.scope():
        qat_model = tfq.quantize_model(qat_keras3.small_cnn(tf_keras))
        qat_model.compile(optimizer="adam", metrics=["accuracy"],
                          loss=tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    # A global batch of 128: each worker computes 64 of it.
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).shuffle(
        len(labels), seed=0).batch(128)
    qat_model.fit(dataset, epochs=FLAGS.qat_epochs, verbose=2 if FLAGS.worker == 0 else 0)

    digest = hashlib.sha256()
    for weight in qat_model.weights:  # ranges and BN statistics included
        digest.update(np.asarray(weight).tobytes())
    print(f"worker {FLAGS.worker} weights sha256 {digest.hexdigest()}", flush=True)
    # The strategy's variables do not convert in place: save, and convert
    # the file (tfq loads its wrappers), as a training job would hand over.
    # Every worker saves (reading synced variables is collective); only the
    # chief's file is kept.
    h5_path = os.path.splitext(FLAGS.output)[0] + (".h5" if FLAGS.worker == 0 else
                                                   f".worker{FLAGS.worker}.h5")
    qat_model.save(h5_path)
    if FLAGS.worker != 0:
        os.remove(h5_path)
        return 0
    tflite_model = tfq.convert(h5_path, progress=False)
    with tfq.quantize_scope():  # predicting with the strategy's model would be collective too
        trained = tf_keras.models.load_model(h5_path)
    test_images, test_labels = fashion_mnist("test")
    return qat_keras3.report(trained, tflite_model, test_images[:FLAGS.test_images],
                             test_labels[:FLAGS.test_images], FLAGS.output)


def main(_):
    if FLAGS.worker is not None:
        return run_worker()
    ports = free_ports(2)
    passed = [f"--{name}={getattr(FLAGS, name)}" for name in
              ("train_images", "test_images", "qat_epochs", "output")]
    workers = [subprocess.Popen([sys.executable, os.path.abspath(__file__), *passed,
                                 f"--worker={index}", f"--ports={ports[0]},{ports[1]}"],
                                stdout=subprocess.PIPE, text=True) for index in range(2)]
    outputs = [worker.communicate()[0] for worker in workers]
    for index, (worker, output) in enumerate(zip(workers, outputs)):
        print(f"--- worker {index} (exit {worker.returncode})\n{output}")
    digests = {line.split()[-1] for output in outputs for line in output.splitlines()
               if "weights sha256" in line}
    if any(worker.returncode != 0 for worker in workers) or len(digests) != 1:
        print("FAILED: a worker failed or the workers ended with different weights")
        return 1
    print("both workers ended with identical weights and ranges")
    return 0


if __name__ == "__main__":
    app.run(main)
