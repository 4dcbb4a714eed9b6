"""Mixed int8 / int16x8 models (tfq.convert(..., int16_layers=[...]),
tfq.mixed_precision): the chosen layers run with int16 activations, the
rest in int8, with QUANTIZE ops exactly where the two meet; TFLite's
reference kernels run the model and the tfq delegate takes every node with
the same output. A layer whose int8 output grid is too coarse (one outlier
channel stretches its range) gets closer to float when it runs at 16 bits."""
import numpy as np
import pytest

import tfq
from tests import interpreters
from tfq.tflite_runner import TfliteRunner

INT8, INT16 = "int8", "int16"


def outlier_model():
    """Dense `wide` writes one channel (a bias of 300) far above the others,
    which `narrow` ignores. In int8 the small channels of `wide`'s output
    land on a grid of 300 / 127: most round to 0."""
    import keras
    keras.utils.set_random_seed(3)
    layers = keras.layers
    inputs = keras.Input((8, 8, 2))
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="stem")(inputs)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    wide = layers.Dense(32, name="wide")
    x = wide(x)
    narrow = layers.Dense(4, name="narrow")
    outputs = narrow(x)
    model = keras.Model(inputs, outputs)
    kernel, bias = wide.get_weights()
    bias[0] = 300.0
    wide.set_weights([kernel, bias])
    kernel, bias = narrow.get_weights()
    kernel[0, :] = 0.0
    narrow.set_weights([kernel, bias])
    return model


@pytest.fixture(scope="module")
def converted():
    model = outlier_model()
    rng = np.random.default_rng(0)
    data = rng.normal(size=(64, 8, 8, 2)).astype(np.float32)
    int8 = tfq.convert(model, representative_data=data, progress=False)
    mixed = tfq.convert(model, representative_data=data, int16_layers=["wide", "narrow"],
                        progress=False)
    return model, data, int8, mixed


def ops_of(tflite_model):
    """(op, input types, output type, output name) per op, from tfq.inspect."""
    report = tfq.inspect(tflite_model)
    return [(op.op, [report.tensors[t].dtype for t in op.inputs if t >= 0],
             report.tensors[op.outputs[0]].dtype, report.tensors[op.outputs[0]].name)
            for op in report.ops]


def test_chosen_layers_are_int16_with_quantize_at_the_boundaries(converted):
    _, _, int8, mixed = converted
    assert all(out == INT8 for _, _, out, _ in ops_of(int8))
    ops = ops_of(mixed)
    names = [name for name, _, _, _ in ops]
    # stem, pool (int8) -> QUANTIZE to int16 -> wide, narrow (int16
    # activations, int8 weights) -> QUANTIZE back to the int8 output.
    assert names == ["CONV_2D", "MEAN", "QUANTIZE", "FULLY_CONNECTED", "FULLY_CONNECTED",
                     "QUANTIZE"], names
    assert [op[2] for op in ops[:2]] == [INT8, INT8]
    quantize_in, wide, narrow, quantize_out = ops[2:]
    assert quantize_in[1] == [INT8] and quantize_in[2] == INT16
    for op in (wide, narrow):
        assert op[1][0] == INT16 and op[1][1] == INT8 and op[2] == INT16, op
    assert quantize_out[1] == [INT16] and quantize_out[2] == INT8
    assert "narrow" in quantize_out[3]  # it writes the original int8 output tensor


def test_reference_kernels_and_the_delegate_agree(converted):
    _, data, _, mixed = converted
    inputs = np.clip(np.round(data[:1] / 0.05), -128, 127).astype(np.int8)
    expected = interpreters.run(interpreters.reference(mixed), inputs)
    interpreter, delegate = interpreters.tfq_litert(mixed)
    actual = interpreters.run(interpreter, inputs)
    total, claimed = delegate.last_claim()
    assert claimed == total == 6, delegate.declined_nodes()
    np.testing.assert_array_equal(actual[0], expected[0])


def sqnr_db(reference, test):
    noise = np.mean((reference - test) ** 2)
    return 10 * np.log10(np.mean(reference ** 2) / max(noise, 1e-30))


def test_16_bit_layers_bring_the_output_closer_to_float(converted):
    model, data, int8, mixed = converted
    float_out = model.predict(data, verbose=0)
    results = {}
    for name, tflite_model in (("int8", int8), ("mixed", mixed)):
        runner = TfliteRunner(tflite_model, keep_all_tensors=False)
        outputs = np.concatenate([out[0] for _, out in runner.run([data])])
        results[name] = sqnr_db(float_out, outputs)
    # The int8 model loses the small channels of `wide` to the outlier's
    # grid; at 16 bits they survive.
    assert results["mixed"] > results["int8"] + 10, results


@pytest.mark.parametrize("call, match", [
    (dict(mode="int16x8", int16_layers=["wide"]), "needs mode='int8'"),
    (dict(int16_layers=["nope"]), r"int16_layers names layers not in model .*\['nope'\]"),
    (dict(int16_layers=["wide"], skip_layers=["stem"]), "cannot be combined"),
])
def test_bad_input(call, match):
    data = np.zeros((4, 8, 8, 2), np.float32)
    with pytest.raises(ValueError, match=match):
        tfq.convert(outlier_model(), representative_data=data, progress=False, **call)
