#!/usr/bin/env bash
# The delegate under AddressSanitizer + UndefinedBehaviorSanitizer:
#   1. every C++ test of tests/delegates/ built with the delegate's sources
#      and -fsanitize=address,undefined, run (any report fails it: no recovery);
#   2. the delegate built as the same sanitized shared library, then the
#      pytest suites that drive it through TFLite (LD_PRELOAD puts the ASan
#      runtime first, as Python itself is not instrumented);
#   3. the fuzzer (tools/fuzz_delegate.py) on that library: ASan turns an
#      out-of-bounds read on a hostile model into a crash the fuzzer counts.
# Usage: bash tools/sanitize.sh [number of fuzz mutants, default 300]
# Run by tools/run_tests.sh (the test command); needs tools/bootstrap.sh first.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
MUTANTS="${1:-300}"
OUT="$ROOT/build/sanitize"
mkdir -p "$OUT/obj"
FLAGS=(-std=c++17 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined
       -fno-sanitize-recover=all -fPIC -fvisibility=hidden -I.)

echo "[sanitize] compiling the delegate with -fsanitize=address,undefined"
objects=()
for source in $(find delegates -name '*.cc' | sort); do
  object="$OUT/obj/$(echo "${source%.cc}" | tr / _).o"
  if [ ! -f "$object" ] || [ "$source" -nt "$object" ] ||
     [ -n "$(find delegates -name '*.h' -newer "$object" | head -1)" ]; then
    g++ "${FLAGS[@]}" -c "$source" -o "$object" &
    # Two at a time: the machine has two cores.
    [ "$(jobs -rp | wc -l)" -ge 2 ] && wait -n
  fi
  objects+=("$object")
done
wait
g++ "${FLAGS[@]}" -shared "${objects[@]}" -o "$OUT/libtfq_delegate.so" \
  -Wl,--version-script=delegates/exports.lds -pthread

export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:detect_odr_violation=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
echo "[sanitize] C++ tests"
for test_source in tests/delegates/*_test.cc; do
  name="$(basename "${test_source%.cc}")"
  g++ "${FLAGS[@]}" "$test_source" "${objects[@]}" -o "$OUT/$name" -lgtest -lgtest_main -pthread
  "$OUT/$name" --gtest_brief=1 > "$OUT/$name.log" 2>&1 ||
    { tail -40 "$OUT/$name.log"; echo "[sanitize] $name failed under ASan/UBSan"; exit 1; }
done
echo "[sanitize] C++ tests: passed"

# libstdc++ preloaded too: ASan intercepts __cxa_throw only if it is loaded
# before the first C++ extension throws (matplotlib's does, at import).
ASAN_RUNTIME="$(g++ -print-file-name=libasan.so) $(g++ -print-file-name=libstdc++.so.6)"
echo "[sanitize] the delegate's pytest suites on the sanitized library"
LD_PRELOAD="$ASAN_RUNTIME" TFQ_DELEGATE_LIBRARY="$OUT/libtfq_delegate.so" \
  .venv/bin/python -m pytest -q -p no:cacheprovider -m "not heavy" tests/test_delegate_*.py
echo "[sanitize] fuzzing the sanitized library ($MUTANTS mutants)"
LD_PRELOAD="$ASAN_RUNTIME" .venv/bin/python -m tfq_tools.fuzz_delegate \
  --library="$OUT/libtfq_delegate.so" --mutants="$MUTANTS" --memory_gb=0 --noprogress \
  --output_json="$OUT/fuzz.json" --keep_dir="$OUT/fuzz_crashes"
echo "[sanitize] passed"
