"""The delegate fuzzer (tools/fuzz_delegate.py): a short seeded run finds no
crash or hang that is tfq's, and the harness tells crashes, hangs and
TFLite's own crashes apart (checked with stand-in workers that do each)."""
import sys

import pytest

from tfq import delegate
from tfq_tools import fuzz_delegate, fuzz_mutations

SHORT_RUN = 300  # the script runs 2,000 (see the README)


@pytest.fixture(scope="module")
def seeds():
    return fuzz_delegate.seed_models()


def test_short_run_has_no_crash_or_hang_against_tfq(seeds):
    result = fuzz_delegate.fuzz(seeds, SHORT_RUN, seed=0, library=delegate.library_path(),
                                progress=False)
    assert result.delegate_failures == [], result.delegate_failures
    assert sum(result.outcomes.values()) == SHORT_RUN
    # The mutants reach both ends: models that still run and models refused.
    assert result.outcomes.get("ok", 0) > 20 and result.outcomes.get("refused", 0) > 100
    assert set(result.by_mutation) == set(fuzz_mutations.MUTATIONS)
    # The delegate saw them: it took nodes of many and turned nodes down on many.
    assert result.delegate_claimed > 50 and result.delegate_declined > 20


def test_mutants_replay_from_their_seed(seeds):
    import numpy as np
    first = fuzz_mutations.mutate(seeds["cnn"], np.random.default_rng([0, 7]))
    again = fuzz_mutations.mutate(seeds["cnn"], np.random.default_rng([0, 7]))
    assert first == again and first[0] != seeds["cnn"]


def _stand_in(behaviour):
    """A worker that answers 'ready', then on its first request does `behaviour`."""
    return [sys.executable, "-c", "import os, sys, time\nprint('ready', flush=True)\n"
            f"sys.stdin.readline()\n{behaviour}\n"]


@pytest.mark.parametrize("with_delegate, without_delegate, against_tfq, tflite_own", [
    ("os.abort()", "print('ok', flush=True)", ["crash SIGABRT"], []),
    ("time.sleep(60)", "print('error ValueError: refused', flush=True)", ["hang"], []),
    ("os.kill(os.getpid(), 11)", "os.kill(os.getpid(), 11)", [], ["crash SIGSEGV"]),
    ("print('ok', flush=True)", "os.abort()", [], []),
])
def test_harness_attributes_each_failure(seeds, with_delegate, without_delegate, against_tfq,
                                         tflite_own, tmp_path):
    result = fuzz_delegate.fuzz(
        {"cnn": seeds["cnn"]}, 1, seed=0, library="unused", timeout=3.0, progress=False,
        keep_dir=str(tmp_path / "kept"), with_delegate_argv=_stand_in(with_delegate),
        without_delegate_argv=_stand_in(without_delegate))
    assert [r["with_delegate"] for r in result.delegate_failures] == against_tfq
    assert [r["with_delegate"] for r in result.tflite_failures] == tflite_own
    assert (tmp_path / "kept").exists() == bool(against_tfq)
