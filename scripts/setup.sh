#!/usr/bin/env bash
# Installs what keyward needs to build and test, from Debian 12 packages — only what is missing.
# Idempotent: a second run installs nothing. Run as root, or as a user with sudo.
set -euo pipefail

PACKAGES=(
  g++ cmake ninja-build                       # toolchain
  libboost1.74-dev libboost-program-options1.74-dev
  libssl-dev                                  # OpenSSL 3: SHA-256, Ed25519, TLS
  libsqlite3-dev libsqlitecpp-dev             # the audit log
  nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev  # tests and benchmarks
  python3 openssl                             # the Python client's tests (clients/python; openssl makes their TLS certificates)
  clang-14 libclang-rt-14-dev                 # the fuzz preset (scripts/fuzz.sh): clang, libFuzzer and the sanitizer runtimes
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "keyward setup: all ${#PACKAGES[@]} packages are installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
echo "keyward setup: installing ${missing[*]}"
# A fresh machine may have no package lists yet: update only when the install cannot find a package.
if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}"; then
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
