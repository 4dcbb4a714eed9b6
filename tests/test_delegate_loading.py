"""Loading the tfq delegate: the library's shape, options and their errors,
partitioning controls, and tfq.Interpreter's arguments."""
import re
import subprocess
import sys

import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

import tfq
from tests import interpreters
from tests.test_delegate_fully_connected import fully_connected_model
from tests.tflite_builder import OneOpModel

EXPECTED_EXPORTS = {"tflite_plugin_create_delegate", "tflite_plugin_destroy_delegate",
                    "tfq_delegate_cpu_features", "tfq_delegate_last_claim",
                    "tfq_delegate_declined_nodes", "tfq_delegate_op_profile",
                    "tfq_delegate_isa"}


def test_library_is_a_plain_shared_library_without_libpython():
    path = tfq.delegate.library_path()
    linked = subprocess.run(["ldd", path], capture_output=True, text=True, check=True).stdout
    assert "libpython" not in linked
    assert not re.search(r"tensorflow|litert", linked)


def test_library_exports_only_the_plugin_interface():
    path = tfq.delegate.library_path()
    symbols = subprocess.run(["nm", "-D", "--defined-only", path], capture_output=True,
                             text=True, check=True).stdout.split("\n")
    exported = {line.split()[-1] for line in symbols if line.strip()}
    assert exported == EXPECTED_EXPORTS


@pytest.mark.parametrize("options,named", [
    ({"num_threads": "x"}, "num_threads"),
    ({"num_threads": -1}, "num_threads"),
    ({"num_threads": 100000}, "num_threads"),
    ({"bogus_option": 1}, "bogus_option"),
    ({"log_level": "loud"}, "log_level"),
    ({"allow_ops": ["CONV_9"]}, "allow_ops"),
    ({"deny_ops": "FULLY_CONNECTED,NOPE"}, "deny_ops"),
    ({"claim_all": "maybe"}, "claim_all"),
    ({"profile": "often"}, "profile"),
    ({"isa": "sse4"}, "isa"),
])
def test_bad_options_raise_value_error_naming_the_option(options, named):
    with pytest.raises(ValueError, match=named):
        tfq.delegate.load(**options)


def test_option_of_unsupported_python_type_raises_type_error():
    with pytest.raises(TypeError, match="num_threads"):
        tfq.delegate.load(num_threads=1.5)


def test_good_options_load():
    delegate = tfq.delegate.load(num_threads=2, log_level="silent", allow_ops=["FULLY_CONNECTED"],
                                 deny_ops=[], claim_all=False)
    assert delegate.last_claim() == (0, 0)  # not applied to any interpreter yet


def test_repeated_load_and_failed_load_never_crash_the_process():
    """Runs in a child so a crash would show as a signal, not kill pytest."""
    script = (
        "import tfq\n"
        "for i in range(200):\n"
        "    tfq.delegate.load(num_threads=i % 4)\n"
        "    try:\n"
        "        tfq.delegate.load(num_threads='bad')\n"
        "    except ValueError:\n"
        "        pass\n"
        "print('ok')\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok"


def test_cpu_features_agree_with_the_kernel():
    features = tfq.delegate.cpu_features().split()
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        flags = next(line for line in cpuinfo if line.startswith(("flags", "Features"))).split()
    assert ("avx2" in features) == ("avx2" in flags)
    assert ("avx512_vnni" in features) == ("avx512_vnni" in flags)


def test_info_log_reports_cpu_features_and_claims(tmp_path):
    model_path = tmp_path / "fc.tflite"
    model_path.write_bytes(fully_connected_model(np.random.default_rng(0), batch=1,
                                                 input_depth=8, output_depth=4))
    script = ("import tfq, sys\n"
              f"it = tfq.Interpreter(model_path={str(model_path)!r}, delegate={{'log_level': 'info'}})\n"
              "it.allocate_tensors()\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"cpu features: {tfq.delegate.cpu_features()}" in result.stderr
    assert "claimed 1 of 1 nodes" in result.stderr


def _float_fully_connected_model():
    model = OneOpModel("FULLY_CONNECTED", schema.FullyConnectedOptionsT())
    x = model.add_input([1, 4], np.float32)
    w = model.add_constant(np.ones((3, 4), np.float32))
    model.add_output([1, 3], np.float32)
    return model.build([x, w, -1])


def test_unsupported_node_is_declined_with_a_reason_and_still_runs():
    model = _float_fully_connected_model()
    delegate = tfq.delegate.load()
    interpreter = tfq.Interpreter(model_content=model, delegate=delegate)
    out = interpreters.run(interpreter, np.array([[1, 2, 3, 4]], np.float32))[0]
    np.testing.assert_array_equal(out, [[10, 10, 10]])
    assert delegate.last_claim() == (1, 0)
    [reason] = delegate.declined_nodes()
    assert "input tensor" in reason and "float32, expected int8" in reason


def test_claim_all_fails_loudly_naming_the_node():
    with pytest.raises(RuntimeError, match="claim_all.*node 0.*float32"):
        tfq.Interpreter(model_content=_float_fully_connected_model(), delegate={"claim_all": True})


def test_op_profile_counts_every_delegated_op_only_when_asked():
    model = fully_connected_model(np.random.default_rng(2), batch=2, input_depth=8, output_depth=4)
    x = np.zeros((2, 8), np.int8)
    plain = tfq.Interpreter(model_content=model)
    interpreters.run(plain, x)
    assert plain.tfq_delegate.op_profile() == {}
    profiled = tfq.Interpreter(model_content=model, delegate={"profile": True})
    for _ in range(5):
        interpreters.run(profiled, x)
    [(op, (invocations, seconds))] = profiled.tfq_delegate.op_profile().items()
    assert op == "FULLY_CONNECTED" and invocations == 5 and 0 < seconds < 1
    fc, partition = sorted(profiled.tfq_delegate.kernel_profile(), key=lambda r: r.op != op)
    assert (fc.op, fc.invocations, fc.macs) == (op, 5, 5 * 2 * 8 * 4)  # batch x in x out
    isa = tfq.delegate.isa()
    assert fc.path == {"amx": "avx512_vnni", "avx512_vnni": "avx512_vnni"}.get(
        isa, "avx2" if isa in ("avx512", "avx2") else "portable")
    # The partition's own time between ops; its `macs` counts the nodes run.
    assert (partition.op, partition.path, partition.invocations, partition.macs) == (
        tfq.delegate.PARTITION, "-", 5, 5)
    assert 0 <= partition.seconds < 5e-3


def test_deny_ops_keeps_nodes_on_tflite():
    model = fully_connected_model(np.random.default_rng(1), batch=1, input_depth=8, output_depth=4)
    delegate = tfq.delegate.load(deny_ops=["FULLY_CONNECTED"])
    tfq.Interpreter(model_content=model, delegate=delegate).allocate_tensors()
    assert delegate.last_claim() == (1, 0)
    assert "excluded by allow_ops/deny_ops" in delegate.declined_nodes()[0]


@pytest.mark.parametrize("kwargs,error", [
    ({}, ValueError),
    ({"model_content": b"x", "model_path": "y"}, ValueError),
    ({"model_content": b"x", "num_threads": 0}, ValueError),
    ({"model_content": b"x", "delegate": "yes"}, TypeError),
    ({"model_content": b"x", "experimental_delegates": []}, ValueError),
])
def test_interpreter_argument_errors(kwargs, error):
    with pytest.raises(error):
        tfq.Interpreter(**kwargs)


def test_interpreter_from_path_without_delegate(tmp_path):
    path = tmp_path / "m.tflite"
    path.write_bytes(_float_fully_connected_model())
    interpreter = tfq.Interpreter(model_path=str(path), delegate=False)
    assert interpreter.tfq_delegate is None
    out = interpreters.run(interpreter, np.ones((1, 4), np.float32))[0]
    np.testing.assert_array_equal(out, [[4, 4, 4]])


def test_library_path_override_must_exist(monkeypatch, tmp_path):
    monkeypatch.setenv("TFQ_DELEGATE_LIBRARY", str(tmp_path / "missing.so"))
    with pytest.raises(FileNotFoundError, match="TFQ_DELEGATE_LIBRARY"):
        tfq.delegate.library_path()
