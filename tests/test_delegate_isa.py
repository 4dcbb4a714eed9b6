"""The delegate's ISA cap (option isa, $TFQ_ISA): every kernel path this CPU
has gives BUILTIN_REF's output over many seeded models, each op reports the
path it ran, and the cap's errors name what is wrong. Each path runs in its
own process: the cap is per process (the first delegate fixes it)."""
import json
import os
import subprocess
import sys

import pytest

import tfq

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
X86_PATHS = ["amx", "avx512_vnni", "avx512", "avx2", "scalar"]
FEATURE_OF_PATH = {"amx": "amx", "avx512_vnni": "avx512_vnni", "avx512": "avx512",
                   "avx2": "avx2", "scalar": None}
# The kernel each op kind takes under each cap (an op without a kernel of
# the capped path takes the best one below it).
CONV_PATH = {"amx": "amx", "avx512_vnni": "avx512_vnni", "avx512": "avx2", "avx2": "avx2",
             "scalar": "portable"}
DEPTHWISE_PATH = {"amx": "avx512_vnni", "avx512_vnni": "avx512_vnni", "avx512": "avx512",
                  "avx2": "avx2", "scalar": "portable"}
FC_PATH = {"amx": "avx512_vnni", "avx512_vnni": "avx512_vnni", "avx512": "avx2", "avx2": "avx2",
           "scalar": "portable"}
ADD_PATH = {"amx": "avx512", "avx512_vnni": "avx512", "avx512": "avx512", "avx2": "avx2",
            "scalar": "portable"}
MEAN_PATH = {"amx": "avx512", "avx512_vnni": "avx512", "avx512": "avx512", "avx2": "portable",
             "scalar": "portable"}


def cpu_paths():
    features = set(tfq.delegate.cpu_features().split())
    return [p for p in X86_PATHS if FEATURE_OF_PATH[p] is None or FEATURE_OF_PATH[p] in features]


# Runs in a child: models over seeds through tfq (capped at sys.argv[1]) and
# BUILTIN_REF; prints per model the mismatching outputs and the paths ran.
CHILD = r"""
import json, sys
import numpy as np
import tfq
from tests import interpreters
from tests.test_delegate_add_sub import add_sub_model
from tests.test_delegate_conv import conv_model
from tests.test_delegate_fully_connected import fully_connected_model, random_int8
from tests.test_delegate_mean import mean_model

isa, seeds = sys.argv[1], int(sys.argv[2])
results = []
for seed in range(seeds):
    rng = np.random.default_rng(1000 + seed)
    zps = dict(input_zero_point=int(rng.integers(-128, 128)),
               output_zero_point=int(rng.integers(-128, 128)))
    models = {
        "conv3x3": conv_model(rng, input_shape=(1, 11, 13, 19), output_depth=37, **zps),
        "conv3x3_s2": conv_model(rng, input_shape=(1, 12, 9, 24), output_depth=48,
                                 strides=(2, 2), padding="VALID", **zps),
        "pointwise": conv_model(rng, input_shape=(1, 7, 9, 40), kernel=(1, 1),
                                output_depth=33, per_channel=bool(seed % 2), **zps),
        "depthwise3x3": conv_model(rng, depthwise=True, input_shape=(1, 10, 11, 70),
                                   output_depth=70, **zps),
        "depthwise5x5_s2": conv_model(rng, depthwise=True, input_shape=(1, 13, 12, 40),
                                      kernel=(5, 5), output_depth=40, strides=(2, 2), **zps),
        "fc": fully_connected_model(rng, batch=1 + seed % 3, input_depth=1280 if seed == 0
                                    else 67, output_depth=45),
        # A residual ADD's shape, 16-element steps and a ragged tail.
        "add": add_sub_model("ADD", (1, 5, 7, 29), (1, 5, 7, 29),
                             scales=tuple(rng.uniform(0.005, 0.2, 3)),
                             zero_points=tuple(int(z) for z in rng.integers(-128, 128, 3))),
        # A global average pool: 16-channel steps, a ragged tail, batches,
        # rescales above and below 1.
        "mean": mean_model((1 + seed % 2, 3 + seed, 4, 16 * (seed % 3) + 7), [1, 2],
                           keep_dims=bool(seed % 2), scales=tuple(rng.uniform(0.005, 0.2, 2)),
                           zero_points=tuple(int(z) for z in rng.integers(-128, 128, 2))),
    }
    for name, model in models.items():
        reference = interpreters.reference(model)
        reference.allocate_tensors()
        xs = [random_int8(rng, d["shape"]) for d in reference.get_input_details()]
        expected = interpreters.run(reference, *xs)[0]
        delegate = tfq.delegate.load(isa=isa, profile=True, claim_all=True)
        got = interpreters.run(tfq.Interpreter(model_content=model, delegate=delegate), *xs)[0]
        paths = {row.op: row.path for row in delegate.kernel_profile()
                 if row.op != "(partition)"}
        results.append({"model": name, "seed": seed, "paths": paths,
                        "mismatches": int(np.count_nonzero(got != expected))})
print(json.dumps({"isa": tfq.delegate.isa(), "results": results}))
"""


@pytest.mark.parametrize("isa", X86_PATHS)
def test_every_path_matches_builtin_ref_over_seeds(isa):
    if isa not in cpu_paths():
        pytest.skip(f"this CPU lacks {isa} ({tfq.delegate.cpu_features()}); "
                    "the path is tested on CPUs that have it, and under qemu")
    child = subprocess.run([sys.executable, "-c", CHILD, isa, "6"], cwd=REPO,
                           capture_output=True, text=True, timeout=900)
    assert child.returncode == 0, child.stderr[-3000:]
    report = json.loads(child.stdout.strip().splitlines()[-1])
    assert report["isa"] == isa
    assert len(report["results"]) == 48
    for result in report["results"]:
        assert result["mismatches"] == 0, result
        expected = {"conv": CONV_PATH, "pointwise": CONV_PATH, "depthwise": DEPTHWISE_PATH,
                    "fc": FC_PATH, "add": ADD_PATH, "mean": MEAN_PATH}
        kind = next(k for k in expected if result["model"].startswith(k))
        [(op, path)] = result["paths"].items()
        assert path == expected[kind][isa], result


def _load_in_child(script, env=None):
    child = subprocess.run([sys.executable, "-c", "import tfq\n" + script], cwd=REPO,
                           capture_output=True, text=True, timeout=300,
                           env={**os.environ, **(env or {})})
    assert child.returncode == 0, child.stderr[-3000:]
    return child.stdout.strip().splitlines()[-1]


def test_cap_is_per_process_and_a_second_path_is_refused_naming_the_first():
    out = _load_in_child(
        "tfq.delegate.load(isa='scalar')\n"
        "tfq.delegate.load(isa='scalar'); tfq.delegate.load()\n"
        "try:\n"
        "    tfq.delegate.load(isa='avx2' if 'avx2' in tfq.delegate.cpu_features() else 'bogus')\n"
        "except ValueError as e:\n"
        "    print(e)\n")
    assert "isa=avx2: this process already runs tfq's kernels on the scalar path" in out or \
        "expected one of" in out, out


def test_environment_variable_caps_like_the_option():
    assert _load_in_child("print(tfq.delegate.isa())", env={"TFQ_ISA": "scalar"}) == "scalar"
    out = _load_in_child("try:\n    tfq.delegate.load()\nexcept ValueError as e:\n    print(e)",
                         env={"TFQ_ISA": "sse9"})
    assert out == ("tfq delegate: option $TFQ_ISA: isa: expected one of auto, amx, "
                   "avx512_vnni, avx512, avx2, scalar, got 'sse9'"), out


@pytest.mark.parametrize("isa", ["sse4", "neon", "AVX2"])
def test_unknown_path_names_the_accepted_ones(isa):
    out = _load_in_child(f"try:\n    tfq.delegate.load(isa={isa!r})\n"
                         "except ValueError as e:\n    print(e)")
    assert out == (f"tfq delegate: option isa: expected one of auto, amx, avx512_vnni, "
                   f"avx512, avx2, scalar, got '{isa}'"), out
