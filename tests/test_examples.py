"""The examples run and report success (they exit non-zero when their own check fails)."""
import pathlib
import subprocess
import sys

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def test_delegate_dense_example():
    result = subprocess.run([sys.executable, str(EXAMPLES / "delegate_dense.py")],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "outputs differing from BUILTIN_REF: 0 of 10000" in result.stdout
