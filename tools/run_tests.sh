#!/usr/bin/env bash
# The README's test command: set-up (idempotent), then every test suite:
# pytest (Python API, arithmetic vs TFLite, the delegate in both interpreters)
# and Bazel (the same delegate built from the same sources, C++ tests), the
# C++ tests under qemu (x86 fallbacks; aarch64 cross-compiled, three CPUs),
# and the delegate under sanitizers (tools/sanitize.sh).
# Tests marked heavy (minutes each: whole keras.applications sweeps, the demo's
# quick run) are left to tools/run_heavy_tests.sh, which CI runs too.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash tools/bootstrap.sh

echo "[tests] pytest (heavy tests: tools/run_heavy_tests.sh)"
# pytest exits 5 when it collects no test: treat that as a failure too.
.venv/bin/python -m pytest tests -m "not heavy" "$@" || { rc=$?; echo "[tests] pytest failed (exit $rc)"; exit "$rc"; }

echo "[tests] bazel build + test"
bazel build //delegates:all
bazel test --test_output=errors //delegates/... //tests/delegates/...
echo "[tests] C++ tests natively on every kernel path below this CPU's best (\$TFQ_ISA caps them)"
cpu_flags="$(grep -m1 '^flags' /proc/cpuinfo || true)"
for isa_and_flag in "avx512_vnni:avx512_vnni" "avx512:avx512bw" "avx2:avx2" "scalar:"; do
  isa="${isa_and_flag%%:*}" flag="${isa_and_flag#*:}"
  if [ -n "$flag" ] && ! grep -qw "$flag" <<<"$cpu_flags"; then continue; fi
  for test in bazel-bin/tests/delegates/*_test; do
    log="$(TFQ_ISA="$isa" "$test" --gtest_brief=1 2>&1)" ||
      { echo "$log" | tail -40; echo "[tests] $test failed with TFQ_ISA=$isa"; exit 1; }
  done
  echo "[tests] TFQ_ISA=$isa: passed"
done
echo "[tests] C++ tests under qemu-x86_64: the AVX2 and portable kernel paths"
# QEMU's emulated CPUs stop short of AVX-512, so the kernels take their
# fallbacks; cpu_features_test checks that each model yields the expected
# path. (The tests are statically linked.)
for cpu_and_features in "Haswell:avx2" "Nehalem:scalar only"; do
  cpu="${cpu_and_features%%:*}"
  for test in bazel-bin/tests/delegates/*_test; do
    log="$(TFQ_EXPECT_CPU_FEATURES="${cpu_and_features#*:}" qemu-x86_64 -cpu "$cpu" "$test" \
      --gtest_brief=1 2>&1)" ||
      { echo "$log" | tail -40; echo "[tests] $test failed under qemu-x86_64 -cpu $cpu"; exit 1; }
  done
  echo "[tests] qemu-x86_64 -cpu $cpu: passed"
done
echo "[tests] aarch64: the delegate and C++ tests cross-compiled, under qemu-aarch64"
bash tools/cross_aarch64.sh
echo "[tests] the Bazel-built plugin end to end"
TFQ_DELEGATE_LIBRARY=bazel-bin/delegates/libtfq_delegate.so \
  .venv/bin/python -m pytest -q tests/test_delegate_keras_dense.py tests/test_delegate_loading.py
echo "[tests] the delegate under ASan + UBSan (C++ tests, its pytest suites, 300 fuzz mutants)"
bash tools/sanitize.sh 300
echo "[tests] all suites passed"
