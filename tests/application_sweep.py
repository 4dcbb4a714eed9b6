"""One seeded initialisation of a keras.applications model, converted by the
stock TFLiteConverter to int8 and run on the tfq delegate (every node
claimed, or the reasons why not) and on BUILTIN_REF. A module of its own so
that test_delegate_keras_cnn can run seeds in worker processes."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# Small inputs: the sweep is about weights and scales, not sizes.
APPLICATIONS = {
    "MobileNet": dict(alpha=0.5, input_shape=(128, 128, 3)),
    "MobileNetV2": dict(input_shape=(32, 32, 3)),
    "MobileNetV3Small": dict(input_shape=(32, 32, 3)),
    "EfficientNetB0": dict(input_shape=(32, 32, 3)),
    "ResNet50": dict(input_shape=(32, 32, 3)),
}


def claim_and_compare(application: str, seed: int) -> dict:
    import keras
    import numpy as np
    import tfq
    from tests import interpreters
    from tests.test_delegate_keras_cnn import _int8_tflite
    keras.utils.set_random_seed(seed)
    options = APPLICATIONS[application]
    model = getattr(keras.applications, application)(weights=None, classifier_activation=None,
                                                     **options)
    tflite_model = _int8_tflite(model, samples=4, seed=seed)
    x = np.random.default_rng(seed).integers(-128, 128, size=(1, *options["input_shape"]),
                                             dtype=np.int8)
    expected = interpreters.run(interpreters.reference(tflite_model), x)[0]
    # Not claim_all: a declined node is reported with its reason, not raised.
    interpreter = tfq.Interpreter(model_content=tflite_model, delegate={"num_threads": 1})
    actual = interpreters.run(interpreter, x)[0]
    delegate = interpreter.tfq_delegate
    total, claimed = delegate.last_claim()
    return {"total": total, "claimed": claimed, "declined": delegate.declined_nodes(),
            "max_difference": int(np.abs(actual.astype(np.int32) - expected).max())}
