#!/usr/bin/env bash
# README command 1: install what is missing, build the release preset, and run keyward-server in the
# foreground with the quickstart configuration (examples/quickstart/): one demo fabric, the server's
# environment as the provider, one demo pipeline. Ctrl-C stops it cleanly.
#
# On first run it creates, under var/ (ignored by git): the audit signing key (var/audit.key, .pub), a
# demo token (var/token, mode 0600; only its hash goes into var/config.json), and on start the audit
# log var/audit.db with its exported checkpoints var/checkpoints.notes. Later runs reuse them, so the
# log keeps growing across runs. rm -rf var/ starts over.
#
# Environment: KEYWARD_QUICKSTART_PORT (default 8642) — the loopback port to listen on.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target keyward-server keyward-audit keyward-policy

bin="$PWD/build/release/bin"
port="${KEYWARD_QUICKSTART_PORT:-8642}"
mkdir -p var
chmod 700 var

if [ ! -f var/audit.key ]; then
  "$bin/keyward-audit" keygen --out var/audit --name keyward.local/quickstart
fi
if [ ! -f var/token ] || [ ! -f var/config.json ]; then
  minted="$("$bin/keyward-server" mint-token --principal demo-pipeline)"
  token="$(printf '%s\n' "$minted" | grep -oE 'kw_[A-Za-z0-9_-]+' | head -n1)"
  hash="$(printf '%s\n' "$minted" | grep -oE 'sha256:[0-9a-f]{64}' | head -n1)"
  if [ -z "$token" ] || [ -z "$hash" ]; then
    echo "quickstart: could not read the minted token" >&2
    exit 1
  fi
  (umask 077 && printf '%s\n' "$token" >var/token)
  sed -e "s/TOKEN_HASH/$hash/" -e "s/\"port\": 8642/\"port\": $port/" examples/quickstart/config.json >var/config.json
fi

"$bin/keyward-server" --config var/config.json --check

# The demo secret the pipeline will resolve: an environment variable of the server process.
export KEYWARD_DEMO_DB_PASSWORD="${KEYWARD_DEMO_DB_PASSWORD:-quickstart-demo-password}"

cat <<EOF

keyward-server is starting on http://127.0.0.1:$port (quickstart: plain HTTP on loopback only).
In another terminal, from $(pwd):

  # resolve the demo secret as the demo pipeline
  curl -s -H "Authorization: Bearer \$(cat var/token)" -H 'Content-Type: application/json' \\
    -d '{"fabric":"demo","secrets":[{"provider":"env","key":"KEYWARD_DEMO_DB_PASSWORD"}]}' \\
    http://127.0.0.1:$port/v1/resolve

  # a denied one (no rule allows it), recorded all the same
  curl -s -H "Authorization: Bearer \$(cat var/token)" -H 'Content-Type: application/json' \\
    -d '{"fabric":"demo","secrets":[{"provider":"env","key":"HOME"}]}' \\
    http://127.0.0.1:$port/v1/resolve

  # the keys the pipeline may list, the latest signed checkpoint, the metrics
  curl -s -H "Authorization: Bearer \$(cat var/token)" 'http://127.0.0.1:$port/v1/fabrics/demo/secrets?provider=env'
  curl -s http://127.0.0.1:$port/v1/audit/checkpoint
  curl -s http://127.0.0.1:$port/metrics

  # verify the audit log offline, as an auditor would (no server, no secrets)
  build/release/bin/keyward-audit verify var/audit.db --key var/audit.pub --checkpoint var/checkpoints.notes
  build/release/bin/keyward-audit show var/audit.db

Ctrl-C stops the server cleanly (in-flight requests finish, a final checkpoint is signed).

EOF

exec "$bin/keyward-server" --config var/config.json
