"""The delegate in the runtimes users load it from: `load_delegate` of LiteRT
and of tf.lite (the plugin interface, no tfq Python in between), and two
interpreters invoking concurrently from two threads. Outputs == BUILTIN_REF."""
import threading
import warnings

import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert import interpreter as litert

import tfq
from tests import interpreters
from tests.test_delegate_conv import conv_model


@pytest.fixture(scope="module")
def model():
    return conv_model(np.random.default_rng(21), depthwise=False, input_shape=(2, 12, 12, 8),
                      output_depth=16, strides=(2, 2), activation="RELU6", input_zero_point=-4)


def _check(interpreter, model, rng):
    x = rng.integers(-128, 128, size=(2, 12, 12, 8), dtype=np.int8)
    np.testing.assert_array_equal(interpreters.run(interpreter, x)[0],
                                  interpreters.run(interpreters.reference(model), x)[0])


def test_litert_load_delegate(rng, model):
    delegate = litert.load_delegate(tfq.delegate.library_path(), {"claim_all": "true"})
    _check(litert.Interpreter(model_content=model, experimental_delegates=[delegate]), model, rng)


def test_tf_lite_load_delegate(rng, model):
    delegate = tf.lite.experimental.load_delegate(tfq.delegate.library_path(),
                                                  {"claim_all": "true"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interpreter = tf.lite.Interpreter(model_content=model, experimental_delegates=[delegate])
    _check(interpreter, model, rng)


def test_two_interpreters_in_two_threads(model):
    """Each thread owns an interpreter (TFLite's rule); the delegate keeps no
    shared mutable state between them, so both stay exact while interleaving."""
    failures = []

    def work(seed):
        try:
            rng = np.random.default_rng(seed)
            interpreter, _ = interpreters.tfq_litert(model)
            for _ in range(25):
                _check(interpreter, model, rng)
        except Exception as error:  # noqa: BLE001 - reported below with its thread
            failures.append(f"thread {seed}: {error!r}")

    threads = [threading.Thread(target=work, args=(seed,)) for seed in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    assert not failures, failures
