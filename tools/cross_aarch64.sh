#!/usr/bin/env bash
# The delegate and its C++ kernel tests for aarch64 (Linux), cross-compiled
# with Debian's g++-aarch64-linux-gnu and run under qemu-aarch64 as three
# CPUs, each of which must pick its own kernel path:
#   max          NEON + dotprod + i8mm
#   neoverse-n1  NEON + dotprod
#   cortex-a53   NEON only
# cpu_features_test checks what each reports. Builds into build/aarch64/
# (GoogleTest from Debian's source package); run by tools/run_tests.sh.
#
#   bash tools/cross_aarch64.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="build/aarch64"
CXX=aarch64-linux-gnu-g++
FLAGS=(-std=c++17 -O2 -fPIC -Wall -Wextra -Wno-unused-parameter -I. -pthread)
GTEST=/usr/src/googletest/googletest
mkdir -p "$OUT/obj" "$OUT/gtest"

compile() {  # source object: recompile only when the source (or a header) is newer
  local source="$1" object="$2"
  if [ ! -f "$object" ] || [ -n "$(find delegates tests/delegates -newer "$object" \
        \( -name '*.h' -o -name '*.cc' \) -print -quit)" ]; then
    "$CXX" "${FLAGS[@]}" "${@:3}" -c "$source" -o "$object"
  fi
}

echo "[aarch64] compiling the delegate"
objects=()
while IFS= read -r source; do
  object="$OUT/obj/$(echo "$source" | tr '/' '_').o"
  compile "$source" "$object" &
  objects+=("$object")
  while [ "$(jobs -rp | wc -l)" -ge 2 ]; do wait -n; done
done < <(find delegates -name '*.cc' -not -path '*/bazel_stubs/*' | sort)
wait
"$CXX" -shared -pthread -Wl,--version-script=delegates/exports.lds -Wl,--no-undefined \
  -o "$OUT/libtfq_delegate.so" "${objects[@]}"

if [ ! -f "$OUT/gtest/libgtest.a" ]; then
  echo "[aarch64] compiling GoogleTest"
  "$CXX" -std=c++17 -O1 -pthread -I"$GTEST/include" -I"$GTEST" \
    -c "$GTEST/src/gtest-all.cc" -o "$OUT/gtest/gtest-all.o"
  "$CXX" -std=c++17 -O1 -pthread -I"$GTEST/include" \
    -c "$GTEST/src/gtest_main.cc" -o "$OUT/gtest/gtest_main.o"
  ar rcs "$OUT/gtest/libgtest.a" "$OUT/gtest/gtest-all.o" "$OUT/gtest/gtest_main.o"
fi

echo "[aarch64] compiling the C++ tests"
tests=()
for source in tests/delegates/*_test.cc; do
  name="$(basename "$source" .cc)"
  "$CXX" "${FLAGS[@]}" -I"$GTEST/include" -o "$OUT/$name" "$source" \
    "${objects[@]}" "$OUT/gtest/libgtest.a" &
  tests+=("$OUT/$name")
  while [ "$(jobs -rp | wc -l)" -ge 2 ]; do wait -n; done
done
wait

for cpu_and_features in "max:neon neon_dotprod neon_i8mm" "neoverse-n1:neon neon_dotprod" \
                        "cortex-a53:neon"; do
  cpu="${cpu_and_features%%:*}"
  for test in "${tests[@]}"; do
    log="$(TFQ_EXPECT_CPU_FEATURES="${cpu_and_features#*:}" \
      qemu-aarch64 -cpu "$cpu" -L /usr/aarch64-linux-gnu "$test" \
      --gtest_brief=1 2>&1)" ||
      { echo "$log" | tail -40; echo "[aarch64] $test failed under qemu-aarch64 -cpu $cpu"; exit 1; }
  done
  echo "[aarch64] qemu-aarch64 -cpu $cpu: ${#tests[@]} C++ tests passed"
done
