"""QAT under tf.distribute: every replica ends with the same weights, ranges
and folded-BatchNormalization statistics (model-optimization#1068 is the
failure to avoid). Runs in a child process, which sets up two logical CPUs."""
import json
import pathlib
import subprocess
import sys

import pytest

SCRIPTS = pathlib.Path(__file__).resolve().parent / "scripts"


@pytest.mark.parametrize("flavour", ["keras", "tf_keras"])
def test_mirrored_strategy_replicas_agree(flavour):
    result = subprocess.run([sys.executable, str(SCRIPTS / "mirrored_qat.py"), flavour],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["replicas"] == 2
    assert any("moving_mean" in name for name in report["spread"])
    assert all(spread == 0.0 for spread in report["spread"].values()), report["spread"]
    assert report["trained_range"] > 0.0  # the output range was learned, not left at 0
