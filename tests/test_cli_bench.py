"""tfq-bench as a user runs it: a subprocess on a one-op int8 model. It times
builtin, XNNPACK and tfq per thread count, checks the tfq output against
BUILTIN_REF, writes JSON; bad input gives exit 1 and one line. (Timings are
only printed, never asserted: the benchmarks own speed claims.)"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.test_delegate_conv import conv_model

TFQ_BENCH = os.path.join(os.path.dirname(sys.executable), "tfq-bench")


def _run(*flags):
    return subprocess.run([TFQ_BENCH, *flags], capture_output=True, text=True, timeout=300)


def test_bench_times_all_three_and_checks_exactness(tmp_path):
    model = tmp_path / "conv.tflite"
    model.write_bytes(conv_model(np.random.default_rng(3), input_shape=(1, 16, 16, 8),
                                 output_depth=16))
    report = tmp_path / "bench.json"
    result = _run(f"--model={model}", "--num_threads=1,2", "--runs=3", f"--json={report}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "tfq output identical to BUILTIN_REF" in result.stdout
    results = json.loads(report.read_text())
    assert results["tfq_identical_to_builtin_ref"] is True
    assert set(results["by_threads"]) == {"1", "2"}
    for row in results["by_threads"].values():
        assert set(row["median_ms"]) == {"builtin", "xnnpack", "tfq"}
        assert all(ms > 0 for ms in row["median_ms"].values())
        assert row["tfq_nodes_claimed"] == [1, 1]
        assert list(row["tfq_op_profile_ms"]) == ["CONV_2D"]
        assert row["tfq_op_profile_ms"]["CONV_2D"] > 0
    assert "tfq per-op profile, 2 thread(s), ms per invoke: CONV_2D" in result.stdout
    import tfq
    assert results["tfq_path"] == tfq.delegate.isa()
    [conv] = [r for r in results["by_threads"]["1"]["tfq_kernel_profile"] if r["op"] == "CONV_2D"]
    assert conv["macs"] == 16 * 16 * 16 * 9 * 8  # output pixels x channels x taps x depth
    assert conv["gmacs"] > 0 and 0 < conv["peak_share"] < 1
    assert "per-node fixed cost:" in result.stdout
    has_amx = "amx" in tfq.delegate.cpu_features().split()
    assert ("XNNPACK AMX n/a (no AMX on this CPU)" in result.stdout) is not has_amx


def test_roofline_peak_follows_the_cpu_generation():
    from tfq_tools import roofline
    sapphire_rapids, zen4, zen5 = ("GenuineIntel", 6), ("AuthenticAMD", 25), ("AuthenticAMD", 26)
    assert roofline.peak_macs_per_cycle("avx512_vnni", sapphire_rapids) == 128
    assert roofline.peak_macs_per_cycle("avx512_vnni", zen5) == 128
    # Zen 4 runs a 512-bit VPDPBUSD as two 256-bit halves.
    assert roofline.peak_macs_per_cycle("avx512_vnni", zen4) == 64
    assert roofline.peak_macs_per_cycle("avx512", zen4) == 32
    assert roofline.peak_macs_per_cycle("avx2", zen4) == 32
    assert roofline.peak_macs_per_cycle("amx", sapphire_rapids) == 1024


@pytest.mark.heavy
def test_bench_isa_caps_tfq_and_times_each_runtime_in_its_own_process(tmp_path):
    model = tmp_path / "conv.tflite"
    model.write_bytes(conv_model(np.random.default_rng(4), input_shape=(1, 12, 12, 8),
                                 output_depth=16))
    report = tmp_path / "bench.json"
    result = _run(f"--model={model}", "--num_threads=1", "--runs=2", "--isa=scalar",
                  "--processes=2", f"--json={report}")
    assert result.returncode == 0, result.stderr[-2000:]
    results = json.loads(report.read_text())
    assert results["tfq_path"] == "scalar"
    row = results["by_threads"]["1"]
    assert [r["path"] for r in row["tfq_kernel_profile"] if r["op"] == "CONV_2D"] == ["portable"]
    assert set(row["own_process_median_ms"]) == {"builtin", "xnnpack", "tfq"}
    assert all(ms > 0 for ms in row["own_process_median_ms"].values())
    assert "each runtime in its own process" in result.stdout
    result = _run(f"--model={model}", "--isa=sse9")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(
        "tfq-bench: error: tfq delegate: option isa: expected one of auto, amx")


def test_bench_survives_a_model_that_aborts_the_reference_kernels(tmp_path):
    """BUILTIN_REF's SOFTMAX aborts the process at this input scale (a
    TFLITE_CHECK; tests/test_delegate_softmax.py): tfq-bench still times the
    model, says the reference aborted and in which op, and exits 0."""
    from tests.test_delegate_softmax import softmax_model
    model = tmp_path / "softmax.tflite"
    model.write_bytes(softmax_model((1, 10), input_scale=1e-9))
    result = _run(f"--model={model}", "--num_threads=1", "--runs=2")
    assert result.returncode == 0, result.stderr[-2000:]
    assert ("TFLite's reference kernels abort on this model (SIGABRT) in SOFTMAX"
            in result.stdout), result.stdout
    assert "Fatal Python error" not in result.stderr
    assert "xnnpack/tfq" in result.stdout


def test_bad_input_is_one_line(tmp_path):
    result = _run(f"--model={tmp_path / 'missing.tflite'}")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("tfq-bench: error: --model: no")
    model = tmp_path / "conv.tflite"
    model.write_bytes(conv_model(np.random.default_rng(3)))
    result = _run(f"--model={model}", "--settle_ms=-1")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == ("tfq-bench: error: --settle_ms must be "
                                                      ">= 0, got -1.0")


def test_bench_models_writes_the_16x8_audio_model_wholly_delegated(tmp_path):
    """tools/bench_models.py (the benchmark models): the Conv1D audio-style
    int16x8 model converts, and the delegate takes every node."""
    result = subprocess.run([sys.executable, "-m", "tfq_tools.bench_models",
                             f"--out_dir={tmp_path}", "--models=audio_conv1d_16x8"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    import tfq
    report = tfq.inspect(str(tmp_path / "audio_conv1d_16x8.tflite"))
    assert {report.tensors[i].dtype for i in report.inputs} == {"int16"}
    interpreter = tfq.Interpreter(model_path=str(tmp_path / "audio_conv1d_16x8.tflite"))
    total, claimed = interpreter.tfq_delegate.last_claim()
    assert claimed == total > 0, interpreter.tfq_delegate.declined_nodes()


def test_bench_models_refuses_an_unknown_model(tmp_path):
    result = subprocess.run([sys.executable, "-m", "tfq_tools.bench_models",
                             f"--out_dir={tmp_path}", "--models=resnet9000"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "unknown ['resnet9000']" in result.stderr
    assert not list(tmp_path.iterdir())
