"""tfq end to end on real data: Fashion-MNIST, a MobileNet-style CNN, every
way to get an int8 .tflite, all evaluated on the 10,000 test images through
the tfq delegate.

    .venv/bin/python examples/fashion_mnist_demo.py [--output_dir=demo_output]

1. Trains a MobileNet-style CNN (Keras 3; depthwise-separable blocks with BN
   and ReLU6, residual adds, global average pooling) with a fixed seed until
   the validation accuracy stops improving.
2. Post-training quantization: tfq with each calibration method, and plain
   TFLiteConverter PTQ, on the same 1,000 calibration images; and tfq's
   int16x8 (16-bit activations, int8 weights).
3. Quantization-aware fine-tuning for --finetune_epochs: tfq (Keras 3),
   tensorflow-model-optimization on the model's tf_keras twin (same weights,
   same data, same optimizer), and the float model fine-tuned the same way,
   so QAT gets no credit for the extra training.
4. Every variant as a full-integer .tflite, evaluated with the tfq delegate;
   latency of one image, tfq delegate vs XNNPACK; one table, saved as JSON
   beside the .tflite files.

--quick trains on a slice for a couple of epochs: a smoke run for tests.
"""
import json
import os
import subprocess
import sys
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

# The demo's net is shared with the speed benchmarks (tfq_tools.bench_models).
from tfq_tools.models import fashion_mnist_net as mobilenet_style  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("output_dir", "demo_output", "Where the .tflite files and table.json go.")
flags.DEFINE_integer("max_epochs", 12, "Float training stops here at the latest.")
flags.DEFINE_integer("patience", 3, "Epochs without a better validation accuracy before "
                     "training stops (the best epoch's weights are kept).")
flags.DEFINE_integer("finetune_epochs", 2, "QAT epochs, and the float fine-tune's.")
flags.DEFINE_float("finetune_learning_rate", None, "Adam learning rate of every fine-tune "
                   "(default: the one float training ended with).")
flags.DEFINE_integer("calibration_samples", 1000, "Training images the PTQ variants calibrate on.")
flags.DEFINE_integer("batch_size", 128, "Training batch size.")
flags.DEFINE_integer("latency_runs", 300, "Single-image invocations per latency median.")
flags.DEFINE_bool("quick", False, "Smoke run: 3,000 training images, 2 epochs, 1,000 test "
                  "images (tests use it; the accuracy targets are not expected to hold).")
flags.DEFINE_string("_tfmot_child", None, "Internal: run the tensorflow-model-optimization QAT "
                    "(tf_keras) from this weights file and write its .tflite.")

PTQ_METHODS = ("minmax", "ema", "percentile", "entropy", "mse", "auto")
VALIDATION_IMAGES = 5000
SEED = 0


def splits():
    """(train, validation, calibration, test) as (images, labels) pairs; the
    validation and calibration images come from the training split."""
    import numpy as np
    from tfq.datasets import fashion_mnist
    images, labels = fashion_mnist("train")
    test = fashion_mnist("test")
    order = np.random.default_rng(SEED).permutation(len(images))
    validation = order[:VALIDATION_IMAGES]
    train = order[VALIDATION_IMAGES:]
    if FLAGS.quick:
        train, validation, test = train[:3000], validation[:500], (test[0][:1000], test[1][:1000])
    calibration = train[:FLAGS.calibration_samples]
    return ((images[train], labels[train]), (images[validation], labels[validation]),
            images[calibration], test)


def compile_for_training(model, K, learning_rate):
    model.compile(optimizer=K.optimizers.Adam(learning_rate), metrics=["accuracy"],
                  loss=K.losses.SparseCategoricalCrossentropy(from_logits=True))


def fit_verbosity():
    return 1 if sys.stdout.isatty() else 2  # a progress bar on a console, a line per epoch in logs


def train_float(train, validation):
    import keras
    model = mobilenet_style(keras)
    compile_for_training(model, keras, 1e-3)
    # Validation accuracy swings from epoch to epoch at Adam's 1e-3: a
    # plateau cuts the learning rate before it may end training.
    callbacks = [keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.3, patience=1,
                                                   min_lr=1e-5, verbose=1),
                 keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=FLAGS.patience,
                                               restore_best_weights=True, verbose=1)]
    history = model.fit(*train, validation_data=validation, batch_size=FLAGS.batch_size,
                        epochs=2 if FLAGS.quick else FLAGS.max_epochs, callbacks=callbacks,
                        verbose=fit_verbosity())
    final_learning_rate = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    return model, len(history.history["loss"]), final_learning_rate


def fine_tune(model, K, train, validation):
    compile_for_training(model, K, FLAGS.finetune_learning_rate)
    model.fit(*train, validation_data=validation, batch_size=FLAGS.batch_size,
              epochs=FLAGS.finetune_epochs, verbose=fit_verbosity())
    return model


def int8_tflite_converter(converter):
    import tensorflow as tf
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter


def plain_tflite_ptq(model, calibration):
    """What a user gets from TFLiteConverter alone: absolute min/max ranges."""
    import tensorflow as tf
    converter = int8_tflite_converter(tf.lite.TFLiteConverter.from_keras_model(model))
    converter.representative_dataset = lambda: ([image[None]] for image in calibration)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return quiet_convert(converter)


def float_tflite(model):
    import tensorflow as tf
    return quiet_convert(tf.lite.TFLiteConverter.from_keras_model(model))


def quiet_convert(converter):
    """converter.convert() without Keras 3's export printout and TF's warnings."""
    import keras
    interactive = keras.config.is_interactive_logging_enabled()
    keras.config.disable_interactive_logging()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return converter.convert()
    finally:
        if interactive:
            keras.config.enable_interactive_logging()


def tfmot_qat(model, train, validation, output_dir):
    """tensorflow-model-optimization QAT of the float model's tf_keras twin:
    run in a child process, since tfmot needs TF_USE_LEGACY_KERAS=1 before
    TensorFlow is imported."""
    import numpy as np
    weights_path = os.path.join(output_dir, "float_weights.npz")
    np.savez(weights_path, *model.get_weights())
    tflite_path = os.path.join(output_dir, "tfmot_qat.tflite")
    flags_ = [f"--{name}={getattr(FLAGS, name)}" for name in
              ("finetune_epochs", "finetune_learning_rate", "batch_size", "quick",
               "calibration_samples")]
    child = subprocess.run([sys.executable, os.path.abspath(__file__), *flags_,
                            f"--output_dir={output_dir}", f"--_tfmot_child={weights_path}"],
                           env={**os.environ, "TF_USE_LEGACY_KERAS": "1"}, check=False)
    os.remove(weights_path)
    if child.returncode != 0:
        raise RuntimeError("the tensorflow-model-optimization QAT run failed (its log is above)")
    with open(tflite_path, "rb") as handle:
        return handle.read()


def run_tfmot_child():
    import numpy as np
    import tensorflow_model_optimization as tfmot
    import tf_keras
    tf_keras.utils.set_random_seed(SEED)
    twin = mobilenet_style(tf_keras)
    with np.load(FLAGS._tfmot_child) as weights:
        twin.set_weights([weights[f"arr_{index}"] for index in range(len(weights.files))])
    train, validation, _, _ = splits()
    print("tensorflow-model-optimization QAT (tf_keras twin)", flush=True)
    qat = fine_tune(tfmot.quantization.keras.quantize_model(twin), tf_keras, train, validation)
    import tensorflow as tf
    tflite = quiet_convert(int8_tflite_converter(tf.lite.TFLiteConverter.from_keras_model(qat)))
    with open(os.path.join(FLAGS.output_dir, "tfmot_qat.tflite"), "wb") as handle:
        handle.write(tflite)


class Evaluator:
    """Runs .tflite files on the test images through the tfq delegate and
    times one image under the delegate and under XNNPACK."""

    def __init__(self, test, batch=500):
        self.images, self.labels = test
        self.batch = batch

    def correct(self, name, tflite_model):
        """Per test image, 1 if the .tflite classifies it right; and how many
        nodes the delegate ran ("claimed/total")."""
        import numpy as np
        from tqdm import tqdm
        import tfq
        interpreter = tfq.Interpreter(model_content=tflite_model)
        input_detail = interpreter.get_input_details()[0]
        interpreter.resize_tensor_input(input_detail["index"], [self.batch, 28, 28, 1])
        interpreter.allocate_tensors()
        total, claimed = interpreter.tfq_delegate.last_claim()
        output_index = interpreter.get_output_details()[0]["index"]
        scale, zero_point = input_detail["quantization"]
        # TFLite's QUANTIZE of the float images (round half away from zero),
        # to the model's input type (int8, or int16 in int16x8).
        input_type = input_detail["dtype"]
        input_params = tfq.quant_math.QuantParams(np.float32([scale]), np.int64([zero_point]),
                                                  input_type)
        correct = np.zeros(len(self.labels), np.int8)
        for start in tqdm(range(0, len(self.labels), self.batch), desc=f"evaluate {name}",
                          unit="batch", leave=False, disable=None):  # None: console only
            images = self.images[start:start + self.batch]
            quantized = tfq.quant_math.quantize(images, input_params)
            if len(quantized) < self.batch:
                quantized = np.concatenate([quantized, np.zeros(
                    (self.batch - len(quantized),) + quantized.shape[1:], input_type)])
            interpreter.set_tensor(input_detail["index"], quantized)
            interpreter.invoke()
            predictions = np.argmax(interpreter.get_tensor(output_index), axis=1)
            correct[start:start + len(images)] = (
                predictions[:len(images)] == self.labels[start:start + len(images)])
        return correct, f"{claimed}/{total}"

    def latency_ms(self, tflite_model):
        """Median ms per single image: (tfq delegate, XNNPACK), 1 thread."""
        import numpy as np
        from ai_edge_litert.interpreter import Interpreter
        import tfq
        medians = []
        for interpreter in (tfq.Interpreter(model_content=tflite_model),
                            Interpreter(model_content=tflite_model, num_threads=1)):
            interpreter.allocate_tensors()
            detail = interpreter.get_input_details()[0]
            interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
            for _ in range(20):
                interpreter.invoke()
            times = []
            for _ in range(FLAGS.latency_runs):
                start = time.perf_counter()
                interpreter.invoke()
                times.append(time.perf_counter() - start)
            medians.append(1e3 * float(np.median(times)))
        return tuple(medians)


def main(_):
    from absl import logging
    logging.set_verbosity(logging.WARNING)  # the converter logs every captured tensor at INFO
    os.makedirs(FLAGS.output_dir, exist_ok=True)
    if FLAGS._tfmot_child:
        run_tfmot_child()
        return 0
    import keras
    import tensorflow as tf
    import tfq

    started = time.perf_counter()
    keras.utils.set_random_seed(SEED)
    train, validation, calibration, test = splits()
    print(f"Fashion-MNIST: {len(train[1])} training, {len(validation[1])} validation, "
          f"{len(test[1])} test images; {len(calibration)} calibration images")

    print("\n== 1. float training (Keras 3) until the validation accuracy stops improving")
    model, epochs, final_learning_rate = train_float(train, validation)
    print(f"{model.count_params():,} parameters; stopped after {epochs} epochs")
    if FLAGS.finetune_learning_rate is None:  # fine-tunes continue where training ended
        FLAGS.finetune_learning_rate = final_learning_rate

    print("\n== 2. post-training quantization")
    variants = {"TFLiteConverter PTQ": plain_tflite_ptq(model, calibration)}
    for method in PTQ_METHODS:
        print(f"tfq PTQ, calibration {method}")
        variants[f"tfq PTQ {method}"] = tfq.convert(model, representative_data=calibration,
                                                    calibration=method)
    print("tfq PTQ int16x8 (16-bit activations, int8 weights), calibration minmax")
    variants["tfq PTQ int16x8 minmax"] = tfq.convert(model, mode="int16x8",
                                                     representative_data=calibration)

    print(f"\n== 3. fine-tuning for {FLAGS.finetune_epochs} epochs "
          f"(Adam, learning rate {FLAGS.finetune_learning_rate:.2g})")
    variants["tensorflow-model-optimization QAT"] = tfmot_qat(model, train, validation,
                                                              FLAGS.output_dir)
    print("tfq QAT (Keras 3), ranges calibrated before training")
    keras.utils.set_random_seed(SEED)
    qat = tfq.quantize_model(model)
    tfq.calibrate(qat, calibration, method="percentile")
    fine_tune(qat, keras, train, validation)
    variants["tfq QAT"] = tfq.convert(qat)
    print("float fine-tune (the reference for QAT)")
    keras.utils.set_random_seed(SEED)
    tuned = keras.models.clone_model(model)
    tuned.set_weights(model.get_weights())
    fine_tune(tuned, keras, train, validation)

    print("\n== 4. evaluation on the test images (tfq delegate)")
    evaluator = Evaluator(test)
    float_accuracy = model.evaluate(*test, verbose=0, batch_size=500)[1]
    tuned_accuracy = tuned.evaluate(*test, verbose=0, batch_size=500)[1]
    float_size = len(float_tflite(model))
    correct_by_variant = {}
    rows = [{"variant": "float (Keras)", "accuracy": float_accuracy, "drop": 0.0,
             "size_bytes": float_size},
            {"variant": f"float fine-tuned +{FLAGS.finetune_epochs} epochs (Keras)",
             "accuracy": tuned_accuracy, "drop": 0.0, "size_bytes": float_size}]
    for name, tflite_model in variants.items():
        path = os.path.join(FLAGS.output_dir, name.lower().replace(" ", "_").replace(
            "-", "_") + ".tflite")
        with open(path, "wb") as handle:
            handle.write(tflite_model)
        correct, delegated = evaluator.correct(name, tflite_model)
        accuracy = float(correct.mean())
        tfq_ms, xnnpack_ms = evaluator.latency_ms(tflite_model)
        reference = tuned_accuracy if "QAT" in name else float_accuracy
        rows.append({"variant": name, "accuracy": accuracy, "drop": 100 * (reference - accuracy),
                     "size_bytes": len(tflite_model), "delegated_nodes": delegated,
                     "tfq_ms": tfq_ms, "xnnpack_ms": xnnpack_ms, "file": path})
        correct_by_variant[name] = correct

    print_table(rows)
    checks = target_checks(rows, float_size, correct_by_variant)
    for line in checks:
        print(line)
    total = time.perf_counter() - started
    print(f"\ntotal time {total / 60:.1f} min; files in {FLAGS.output_dir}/")
    with open(os.path.join(FLAGS.output_dir, "table.json"), "w", encoding="utf-8") as handle:
        json.dump({"rows": rows, "checks": checks, "float_epochs": epochs,
                   "finetune_epochs": FLAGS.finetune_epochs, "seconds": total,
                   "test_images": len(test[1]), "quick": FLAGS.quick}, handle, indent=2)
    return 0


def print_table(rows):
    print(f"\n{'variant':42s} {'top-1':>7s} {'drop':>6s} {'size':>9s} {'delegated':>9s} "
          f"{'tfq ms':>7s} {'XNNPACK':>7s}")
    for row in rows:
        timing = (f"{row['delegated_nodes']:>9s} {row['tfq_ms']:7.3f} {row['xnnpack_ms']:7.3f}"
                  if "tfq_ms" in row else "")
        print(f"{row['variant']:42s} {100 * row['accuracy']:6.2f}% {row['drop']:6.2f} "
              f"{row['size_bytes'] / 1024:7.1f}KB {timing}")
    print("drop: points below the float model (QAT rows: below the float model fine-tuned "
          "for the same epochs); latency: one image, 1 thread, median")


def paired_difference(correct_a, correct_b):
    """Accuracy of a minus b in points, with its standard error (paired: the
    same test images), which says what difference is noise."""
    import numpy as np
    paired = correct_a.astype(np.float64) - correct_b
    return 100 * paired.mean(), 100 * paired.std(ddof=1) / np.sqrt(paired.size)


def target_checks(rows, float_size, correct):
    """The demo's targets, each a line saying met or missed."""
    by_name = {row["variant"]: row for row in rows}
    ptq = {name: row for name, row in by_name.items()
           if name.startswith("tfq PTQ") and "int16x8" not in name}  # the int8 ones
    ptq16 = by_name["tfq PTQ int16x8 minmax"]
    best_ptq = max(ptq.values(), key=lambda row: row["accuracy"])
    qat = by_name["tfq QAT"]
    largest_tfq = max(row["size_bytes"] for name, row in by_name.items()  # the int8 files
                      if name.startswith("tfq ") and "int16x8" not in name)

    def line(ok, text):
        return f"[{'met' if ok else 'MISSED'}] {text}"

    def versus(name, other):
        difference, error = paired_difference(correct[name], correct[other])
        return line(difference >= 0, f"{name} - {other} = {difference:+.2f} +- {error:.2f} "
                    "points >= 0 (+- one paired standard error)")
    return [
        line(best_ptq["drop"] <= 0.5, f"tfq PTQ best ({best_ptq['variant']}) drop "
             f"{best_ptq['drop']:.2f} <= 0.5 points"),
        line(ptq16["drop"] <= 0.1, f"tfq PTQ int16x8 drop {ptq16['drop']:.2f} <= 0.1 points"),
        line(qat["drop"] <= 0.2, f"tfq QAT drop {qat['drop']:.2f} <= 0.2 points "
             "(vs the float model fine-tuned as long)"),
        versus(best_ptq["variant"], "TFLiteConverter PTQ"),
        versus("tfq QAT", "tensorflow-model-optimization QAT"),
        line(largest_tfq <= 0.3 * float_size, f"tfq's int8 .tflite {largest_tfq / 1024:.0f} KB "
             f"<= 0.3 x float {float_size / 1024:.0f} KB"),
    ]

if __name__ == "__main__":
    app.run(main)
