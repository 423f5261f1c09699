#!/usr/bin/env python3
"""Writes a realistic policy of about 1,000 rules for the load benchmark.

One rule lets the benchmark's principal resolve BENCH_* on fabric "bench"; the others are a platform's
worth of teams, fabrics and providers, so that the decision goes through a populated index."""
import json
import sys

teams = [f"team-{i:03d}" for i in range(100)]
policy = {
    "format": "keyward-policy/1",
    "description": "load benchmark: ~1000 rules",
    "providers": [
        {"id": "env", "type": "environment"},
        {"id": "vault", "type": "vault"},
        {"id": "dbx", "type": "databricks"},
    ],
    "fabrics": [{"id": "bench", "kind": "databricks", "providers": ["env", "vault", "dbx"]}]
    + [{"id": f"fabric-{i:02d}", "kind": "emr", "providers": ["env", "vault"]} for i in range(20)],
    "rules": [],
}
rules = policy["rules"]
rules.append({"id": "bench-reads", "effect": "allow", "principals": ["bench-pipeline"], "fabrics": ["bench"],
              "providers": ["env"], "secrets": ["BENCH_*"], "actions": ["resolve", "list"]})
for t in teams:
    for j in range(10):
        if len(rules) >= 1000:
            break
        kind = j % 5
        rule = {"id": f"{t}-r{j}", "effect": "allow", "principals": [f"pipeline-{t}-{j}", f"{t}-svc-*"],
                "fabrics": [f"fabric-{(j * 7 + len(rules)) % 20:02d}", "bench"], "actions": ["resolve"]}
        if kind == 0:
            rule.update(providers=["vault"], secrets=[f"secret/{t}/app{j}/*"])
        elif kind == 1:
            rule.update(providers=["vault"], secrets=[f"secret/{t}/**/*"], actions=["resolve", "list"])
        elif kind == 2:
            rule.update(providers=["env"], secrets=[f"{t.upper().replace('-', '_')}_{j}_*"])
        elif kind == 3:
            rule.update(providers=["dbx"], secrets=[f"{t}-scope/*"], fabrics=["bench"])
        else:
            rule.update(effect="deny", providers=["vault"], secrets=[f"secret/{t}/**/root-*"], actions=["*"],
                        principals=["*"])
        rules.append(rule)
json.dump(policy, sys.stdout, indent=1)
sys.stdout.write("\n")
