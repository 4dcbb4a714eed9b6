#!/usr/bin/env bash
# Idempotent set-up of a tfq development machine (Debian 12, Python 3.11):
#   - Debian packages for the Bazel build, the C++ tests (and their aarch64
#     cross build), the Fashion-MNIST
#     data of the demo and benchmarks, and chromium (the test that renders
#     tfq.analyze's HTML page), when missing;
#   - .venv with the pinned stack (setup.py) and tfq installed editable, which
#     compiles delegates/ into tfq/libtfq_delegate.so.
# A second run with nothing changed takes about a second: the pip steps are
# skipped while the hash of setup.py and the C++ sources is unchanged.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
APT_PACKAGES=(bazel-bootstrap bazel-rules-java bazel-skylib libgtest-dev dataset-fashion-mnist
              qemu-user chromium g++-aarch64-linux-gnu)

say() { echo "[bootstrap] $*"; }

install_debian_packages() {
  local missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  say "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

find_python() {
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] < (3, 10))'; then
      echo "$candidate"; return 0
    fi
  done
  echo "tfq needs Python >= 3.10 (3.11 is what CI uses); none found on PATH" >&2
  return 1
}

source_hash() {
  (cd "$ROOT" && cat setup.py tools/bootstrap.sh \
     $(find delegates tfq/cc -type f \( -name '*.cc' -o -name '*.h' -o -name '*.lds' \) | sort) \
   | sha256sum | cut -d' ' -f1)
}

install_python_packages() {
  local stamp="$VENV/.tfq-installed" want
  want="$(source_hash)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$ROOT/tfq/libtfq_delegate.so" ]; then
    say "virtualenv up to date ($VENV)"
    return 0
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV"
    "$(find_python)" -m venv "$VENV"
  fi
  say "installing the pinned stack and tfq (editable; compiles the delegate)"
  "$VENV/bin/python" -m pip install -q --upgrade pip setuptools wheel
  # tensorflow-cpu is the CPU-only build of the tensorflow==2.21.0 that setup.py pins.
  "$VENV/bin/python" -m pip install -q "tensorflow-cpu==2.21.0"
  "$VENV/bin/python" -m pip install -q --no-build-isolation -e "$ROOT[test]"
  echo "$want" > "$stamp"
}

install_debian_packages
install_python_packages
say "ready: $VENV/bin/python"
