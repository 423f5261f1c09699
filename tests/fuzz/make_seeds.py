#!/usr/bin/env python3
"""Writes the hand-made seed inputs of each harness into DIR/<harness>/: python3 tests/fuzz/make_seeds.py DIR

The committed corpus (tests/fuzz/corpus/) started from these seeds and grew by fuzzing; it was then
minimised with -merge=1. Run this again only to re-seed (then scripts/fuzz.sh merge folds DIR in when
DIR is build/fuzz/work).
"""
import hashlib
import json
import os
import random
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def write(out, harness, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(out, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


def read(rel):
    with open(os.path.join(ROOT, rel), "rb") as f:
        return f.read()


RESOLVE_BODIES = [
    '{"fabric":"emr","secrets":[{"provider":"vault","scope":"secret/app/db","key":"password"}]}',
    '{"fabric":"emr","secrets":[{"provider":"vault","scope":"secret/app/db","key":"password"},'
    '{"provider":"vault","scope":"secret/app/db","key":"user"}]}',
    '{"fabric":"dbx-prod","secrets":[{"provider":"dbx","scope":"sales","key":"token"},'
    '{"provider":"env","key":"SPARK_HOME"}]}',
    '{"fabric":"trial-a","secrets":[{"provider":"dbx","scope":"trial-a","key":"key"}]}',
    '{"fabric":"emr","secrets":[{"provider":"vault","scope":"secret/team/x/y","key":"k"}]}',
    '{"fabric":"emr","secrets":[{"provider":"vault","scope":"secret/app/u","key":"k"}]}',
    '{"fabric":"emr","secrets":[{"provider":"vault","scope":"secret/app/admin","key":"root"}]}',
    '{"fabric":"emr","secrets":[{"provider":"vault","scope":"secret/app/broken","key":"x"}]}',
    '{"fabric":"emr","secrets":[{"provider":"vault","scope":"secret/app/db","key":"slow"}]}',
    '{"fabric":"emr","secrets":[{"provider":"vault","scope":"secret/../db","key":"password"}]}',
    '{"fabric":"nowhere","secrets":[{"provider":"vault","scope":"secret/app/db","key":"password"}]}',
    '{"fabric":"emr","secrets":[{"provider":"nope","scope":"a","key":"b"}]}',
    '{"fabric":"emr","secrets":[]}',
    '{"fabric":"emr","fabric":"dbx-prod","secrets":[]}',
    '{"fabric":1,"secrets":[{"provider":"vault","scope":2,"key":[3]},"x",{"extra":true}]}',
    '[[[[[[[[[[{"a":1}]]]]]]]]]]',
    '{"fabric":"emr","secrets":[{"provider":"vault","scope":"secret/app/db","key":"pass\\u0000word"}]}',
    '{"fabric":"emr","secrets":[{"provider":"vault","scope":"secret/app/db","key":"\\ud800"}]}',
    '{"fabric":"emr","secrets":[{"provider":"env","key":"SPARK_HOME"}], "n": 1e999}',
]

API_REQUESTS = [
    "GET /healthz\n\n",
    "GET /readyz\n\n",
    "GET /readyz\nx-fuzz-sink: down\n\n",
    "GET /metrics\n\n",
    "GET /v1/audit/checkpoint\n\n",
    "POST /healthz\n\n",
    "GET /v1/fabrics\nauthorization: Bearer @ALICE\n\n",
    "GET /v1/fabrics\nauthorization: Bearer @BOB\nx-request-id: my-request.1\n\n",
    "GET /v1/fabrics\nx-fuzz-cert: CN=carol,O=Example\n\n",
    "GET /v1/fabrics\nauthorization: Bearer kw_wrong\n\n",
    "GET /v1/fabrics\nauthorization: Basic abc\nx-fuzz-sink: down\n\n",
    "GET /v1/fabrics/emr/secrets?provider=vault&scope=secret/app\nauthorization: Bearer @ALICE\n\n",
    "GET /v1/fabrics/emr/secrets?provider=vault&scope=secret%2Fapp%2Fdb\nauthorization: Bearer @BOB\n\n",
    "GET /v1/fabrics/dbx-prod/secrets?provider=dbx\nauthorization: Bearer @ALICE\n\n",
    "GET /v1/fabrics/dbx-prod/secrets?provider=env\nauthorization: Bearer @ALICE\n\n",
    "GET /v1/fabrics/emr/secrets\nauthorization: Bearer @ALICE\n\n",
    "GET /v1/fabrics/emr/secrets?provider=vault&scope=secret/app/broken\nauthorization: Bearer @ALICE\n\n",
    "GET /v1/fabrics/emr/secrets?provider=vault&scope=secret/app\nauthorization: Bearer @ALICE\nx-fuzz-sink: down\n\n",
    'PUT /v1/fabrics/emr/secrets/vault/secret/app/db/password\nauthorization: Bearer @ALICE\n\n{"value":"NEW-PASSWORD-0123456789"}',
    'PUT /v1/fabrics/emr/secrets/vault/secret/app/db/password\nauthorization: Bearer @ALICE\nx-fuzz-sink: down\n\n'
    '{"value":"NEW-PASSWORD-0123456789"}',
    'PUT /v1/fabrics/dbx-prod/secrets/dbx/sales/token\nauthorization: Bearer @ALICE\n\n'
    '{"value":"TkVXLVZBTFVFLTk4NzY1NDMyMTA=","encoding":"base64"}',
    'PUT /v1/fabrics/emr/secrets/vault/secret/app/db/conflict\nauthorization: Bearer @ALICE\n\n{"value":"x"}',
    'PUT /v1/fabrics/emr/secrets/env/SPARK_HOME\nauthorization: Bearer @ALICE\n\n{"value":"x"}',
    "DELETE /v1/fabrics/emr/secrets/vault/secret/app/db/user\nauthorization: Bearer @ALICE\n\n",
    "DELETE /v1/fabrics/emr/secrets/vault/secret/app/db/user\nauthorization: Bearer @ALICE\n\nbody",
    "DELETE /v1/fabrics/emr/secrets/vault/secret/app/admin/root\nauthorization: Bearer @ALICE\n\n",
    "GET http://keyward.example/v1/fabrics?x=%zz\nauthorization: Bearer @ALICE\n\n",
    "GET /v1/fabrics/%FF/secrets?provider=vault&scope=secret/app\nauthorization: Bearer @ALICE\n\n",
    "GET /v1/fabrics/emr/secrets/vault/a%2Fb/k\nauthorization: Bearer @ALICE\n\n",
    "OPTIONS /v1/resolve\n\n",
    "GET /nope\n\n",
    "GET relative\n\n",
]
API_REQUESTS += ["POST /v1/resolve\nauthorization: Bearer @ALICE\nx-request-id: r-%d\n\n%s" % (i, b)
                 for i, b in enumerate(RESOLVE_BODIES)]
API_REQUESTS += ["POST /v1/resolve\nauthorization: Bearer @BOB\nx-fuzz-sink: down\n\n" + RESOLVE_BODIES[0],
                 "POST /v1/resolve\nx-fuzz-cert: CN=carol,O=Example\n\n" + RESOLVE_BODIES[0]]


def entry(seq, time, **fields):
    names = ["action", "decision", "detail", "fabric", "key", "peer", "policy", "principal", "provider",
             "provider_type", "reason", "request_id", "scope"]
    obj = {n: fields.get(n, "") for n in names}
    obj["seq"] = seq
    obj["time"] = time
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_seeds.py DIR")
    out = sys.argv[1]
    # policy_fuzzer: the example policies.
    for rel in ["examples/policy.json", "examples/quickstart/policy.json", "policy/testdata/decision_table.policy.json"]:
        write(out, "policy_fuzzer", read(rel))
    write(out, "policy_fuzzer", '{"format":"keyward-policy/1","providers":[],"fabrics":[],"rules":[]}')

    # config_fuzzer: the quickstart's configuration, with a token hash in place; the full example of
    # docs/config.md.
    quick = read("examples/quickstart/config.json").replace(
        b"TOKEN_HASH", b"sha256:d95bcbb6b95f7a648e94560f2b1000b0aa3a86151476328befdafc06b1313d4c")
    write(out, "config_fuzzer", quick)
    doc = read("docs/config.md").decode()
    start = doc.index("```jsonc\n") + len("```jsonc\n")
    write(out, "config_fuzzer", doc[start:doc.index("```", start)])
    write(out, "config_fuzzer", '{"listen":{"address":"::1%lo","port":1},"insecure_plaintext":true,'
          '"audit":{"database":"a.db","origin":"o","signing_key":"k"},"policy":"p.json","providers":[],'
          '"principals":[{"id":"a@b:c+d","certificates":["CN=x,O=y","1.2.3=z","email:a@b"]},'
          '{"id":"b","tokens":["sha256:d95bcbb6b95f7a648e94560f2b1000b0aa3a86151476328befdafc06b1313d4c"]}]}')

    # json_fuzzer: byte 0 = limits (bit 0 comments, then depth), then a document.
    for b in RESOLVE_BODIES:
        write(out, "json_fuzzer", b"\x0e" + b.encode())
    write(out, "json_fuzzer", b"\x7f" + read("examples/quickstart/config.json"))
    write(out, "json_fuzzer", b"\x7f" + read("examples/policy.json"))
    write(out, "json_fuzzer", b"\x7e" + b'{"n":-3,"b":true,"list":["a",1],"o":{"n":2},"x":null}')

    for b in RESOLVE_BODIES:
        write(out, "resolve_fuzzer", b)
    for r in API_REQUESTS:
        write(out, "api_fuzzer", r)

    # audit_entry_fuzzer: canonical entries, and near misses.
    t = "2026-01-01T00:00:01.000000Z"
    entries = [
        entry(1, t, action="resolve", decision="allow", fabric="emr-etl", key="password", peer="127.0.0.1:40000",
              principal="pipeline-etl", provider="vault", provider_type="vault", reason="rule:etl",
              request_id="req-1", scope="secret/data-eng/snowflake", policy="e2da4517"),
        entry(42, "2026-12-04T20:00:00.123456Z", action="server.start", decision="allow",
              detail="tab\t nl\n quote\" backslash\\ ctl\x01 \x1f é € 𝄞 / \x7f"),
        entry(9007199254740993, t, action="authenticate", decision="deny", reason="unauthenticated"),
    ]
    for e in entries:
        write(out, "audit_entry_fuzzer", e)
    write(out, "audit_entry_fuzzer", entries[0].replace(",", ", ", 1))
    write(out, "audit_entry_fuzzer", entries[1].replace("\\u0001", "\\u0001".upper()))

    # audit_verifier_fuzzer: a FuzzedDataProvider stream: no useful hand-made form; random starts.
    rnd = random.Random(6)
    write(out, "audit_verifier_fuzzer", b"")
    for n in (8, 16, 32, 64, 128, 256, 512):
        write(out, "audit_verifier_fuzzer", bytes(rnd.randrange(256) for _ in range(n)))


if __name__ == "__main__":
    main()
