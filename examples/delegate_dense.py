"""Run a full-int8 Keras model on the tfq delegate and check it against TFLite's reference kernels.

    .venv/bin/python examples/delegate_dense.py

Builds a small Dense classifier (Keras 3), converts it to a full-integer
.tflite with TFLiteConverter, then runs 1,000 random inputs through
`tfq.Interpreter` (LiteRT + tfq delegate) and through BUILTIN_REF.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from ai_edge_litert.interpreter import Interpreter, OpResolverType  # noqa: E402

import tfq  # noqa: E402


def main():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(128, activation="relu"),
                              keras.layers.Dense(64, activation="relu6"), keras.layers.Dense(10)])
    rng = np.random.default_rng(0)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([rng.normal(size=(1, 64)).astype(np.float32)]
                                                for _ in range(100))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    tflite_model = converter.convert()

    inputs = rng.integers(-128, 128, size=(1000, 64), dtype=np.int8)
    outputs = {}
    delegated = tfq.Interpreter(model_content=tflite_model, num_threads=1)
    reference = Interpreter(model_content=tflite_model,
                            experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    for name, interpreter in [("tfq delegate", delegated), ("BUILTIN_REF", reference)]:
        interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], inputs.shape)
        interpreter.allocate_tensors()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], inputs)
        interpreter.invoke()
        outputs[name] = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    total, claimed = delegated.tfq_delegate.last_claim()
    differing = np.count_nonzero(outputs["tfq delegate"] != outputs["BUILTIN_REF"])
    print(f"tfq delegate claimed {claimed} of {total} nodes (CPU: {tfq.delegate.cpu_features()})")
    print(f"outputs differing from BUILTIN_REF: {differing} of {outputs['BUILTIN_REF'].size}")
    return 0 if differing == 0 and claimed == total else 1


if __name__ == "__main__":
    raise SystemExit(main())
