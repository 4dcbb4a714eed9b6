#!/usr/bin/env bash
# The tests marked heavy (about 15 minutes on 2 cores): keras.applications
# models swept over seeds and at 224x224 through the delegate, QAT blocks
# over 20 seeds, the demo's quick run, the examples under tf.distribute. CI runs them after
# tools/run_tests.sh; set-up is the same (idempotent).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash tools/bootstrap.sh
echo "[heavy tests] pytest -m heavy"
.venv/bin/python -m pytest tests -m heavy "$@" ||
  { rc=$?; echo "[heavy tests] pytest failed (exit $rc)"; exit "$rc"; }
echo "[heavy tests] passed"
