#!/usr/bin/env bash
# README command 1: install what is missing, build the release preset, and run keyward's main job.
#
# Today the main job is the policy tool on the example policy: check it, then explain one request it
# allows and one it denies. (When keyward-server lands, this script starts the server instead.)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target keyward-policy

bin=build/release/bin
run() { printf '\n$ %s\n' "$*"; "$@"; }

run "$bin/keyward-policy" check examples/policy.json
run "$bin/keyward-policy" explain examples/policy.json --principal pipeline-etl-daily --fabric emr-etl \
  --secret vault:secret/data-eng/snowflake/password --action resolve
run "$bin/keyward-policy" explain examples/policy.json --principal trial-user-acme --fabric trial-acme \
  --secret dbx-trial:trial-globex/openai-key --action resolve
run "$bin/keyward-policy" test examples/policy.json examples/policy.cases.json
