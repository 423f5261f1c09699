#!/usr/bin/env bash
# README command 2: install what is missing, build, and run every test.
#
#   scripts/test.sh              the debug preset (warnings are errors)
#   scripts/test.sh asan-ubsan   the same suite under AddressSanitizer and UndefinedBehaviorSanitizer
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-debug}"

scripts/setup.sh
cmake --workflow --preset "$preset"
