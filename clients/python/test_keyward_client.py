"""Tests of keyward_client against the real keyward-server (standard library only).

    KEYWARD_BIN_DIR=build/debug/bin python3 -m unittest -v test_keyward_client    (from clients/python)

The server runs on an ephemeral loopback port with everything it needs in a temporary directory: a
signing key from `keyward-audit keygen`, tokens from `keyward-server mint-token`, a configuration and a
policy written here, and the environment provider serving demo variables the test sets (the listing
tests add Vault and Databricks providers, answered by a minimal in-process double of their APIs, and
the throttling test a server of its own with a low failure limit). When a server stops, the test
checks that it stopped cleanly, that `keyward-audit verify` accepts its log, and that no secret value
appears in any byte it wrote. Every exception a test provokes is checked to hold no
secret value either.

KEYWARD_BIN_DIR (default: build/debug/bin under the repository) must hold keyward-server and
keyward-audit: the tests fail, not skip, when they are missing.
"""

from __future__ import annotations

import base64
import http.server
import json
import os
import pickle
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import unittest
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import keyward_client as kc  # noqa: E402
from keyward_client import (  # noqa: E402
    AuditRange, DeniedRef, Fabric, FabricProvider, InvalidArgument, KeywardClient, KeywardError, NotFound,
    PermissionDenied, ProtocolError, ResourceExhausted, SecretRef, Unauthenticated, Unavailable, Unimplemented)

REPO = Path(__file__).resolve().parents[2]
ORIGIN = "keyward.test/python-client"
DEADLINE_S = 30.0  # for the server to start or to stop; generous for sanitizer builds

# The secret values the server's environment holds. None may ever appear in an exception, a repr, or
# anything the server writes.
USER = "etl_user-7c1e"
PASSWORD = "pw-\u01a9\u00e9-9f3c1a7e-do-not-leak"  # not ASCII: UTF-8 end to end
BINARY = b"\xff\xfe-kw-bin-5a1d0c\x80\x01"  # not UTF-8: comes back base64, decoded to bytes
DENIED_VALUE = "denied-value-b41f2e9d"  # exposed by the provider, refused by the policy
WRITTEN_VALUE = "written-value-03d9aa71"  # what a test tries to write (and the server refuses)
SECRETS = [USER.encode(), PASSWORD.encode(), BINARY, DENIED_VALUE.encode(), WRITTEN_VALUE.encode()]

SERVER_ENV = {
    "KWPY_DEMO_USER": USER.encode(),
    "KWPY_DEMO_PASSWORD": PASSWORD.encode(),
    "KWPY_DEMO_BINARY": BINARY,
    "KWPY_SECRET_DENIED": DENIED_VALUE.encode(),
}

POLICY = {
    "format": "keyward-policy/1",
    "description": "python client tests",
    "providers": [{"id": "env", "type": "environment"}],
    "fabrics": [
        {"id": "demo", "kind": "livy", "providers": ["env"]},
        {"id": "other", "kind": "emr", "providers": ["env"]},
    ],
    "rules": [{
        "id": "pipelines-read-demo",
        "effect": "allow",
        "principals": ["pipeline-test", "pipeline-mtls"],
        "fabrics": ["demo"],
        "providers": ["env"],
        "secrets": ["KWPY_DEMO_*"],
        "actions": ["resolve", "list"],
    }],
}


def bin_dir() -> Path:
    d = Path(os.environ.get("KEYWARD_BIN_DIR", REPO / "build" / "debug" / "bin")).resolve()
    missing = [t for t in ("keyward-server", "keyward-audit") if not os.access(d / t, os.X_OK)]
    if missing:
        raise RuntimeError(f"{', '.join(missing)} not found in {d}: build them (cmake --build build/debug --target "
                           "keyward-server keyward-audit) or point KEYWARD_BIN_DIR at them")
    return d


def run(args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, timeout=DEADLINE_S, **kw)


def mint_token(principal: str):
    """(token, hash) from `keyward-server mint-token`."""
    p = run([bin_dir() / "keyward-server", "mint-token", "--principal", principal], check=True)
    out = p.stdout.decode()
    token = re.search(r"^\s+(kw_\S+)$", out, re.M).group(1)
    token_hash = re.search(r'"tokens": \["(sha256:[0-9a-f]+)"\]', out).group(1)
    return token, token_hash


def free_port() -> int:
    """A loopback port nobody listens on (right now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class KeywardServer:
    """keyward-server in a temporary directory, started and stopped by the test.

    stop() sends SIGTERM, waits for a clean exit (0), runs `keyward-audit verify` on the log (exit 0)
    and searches every byte the server wrote for the secret values; it raises AssertionError otherwise.
    """

    def __init__(self, tls: dict | None = None, principals: list | None = None, *, policy: dict | None = None,
                 providers: list | None = None, auth: dict | None = None, files: dict | None = None) -> None:
        """policy, providers (extra provider sections besides "env") and auth replace the defaults;
        files ({name: text}) are written beside the configuration (credential files)."""
        self.dir = Path(tempfile.mkdtemp(prefix="keyward-pytest-"))
        try:
            self._start(tls, principals, policy, providers, auth, files)
        except BaseException:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise

    def _start(self, tls: dict | None, principals: list | None, policy: dict | None, providers: list | None,
               auth: dict | None, files: dict | None) -> None:
        self.token, token_hash = mint_token("pipeline-test")
        run([bin_dir() / "keyward-audit", "keygen", "--out", self.dir / "audit", "--name", ORIGIN], check=True)
        (self.dir / "policy.json").write_text(json.dumps(policy or POLICY, indent=2))
        for name, text in (files or {}).items():
            (self.dir / name).write_text(text)
            os.chmod(self.dir / name, 0o600)  # credential files: the server refuses ones others may read
        config = {
            "listen": {"address": "127.0.0.1", "port": 0},
            "audit": {"database": "audit.db", "origin": ORIGIN, "signing_key": "audit.key",
                      "checkpoint_interval_ms": 200, "checkpoint_export": "checkpoints.notes"},
            "policy": "policy.json",
            "providers": [{"id": "env", "type": "environment", "prefix": "KWPY_DEMO_", "allow": ["KWPY_SECRET_DENIED"]}]
                         + (providers or []),
            "principals": [{"id": "pipeline-test", "tokens": [token_hash]}] + (principals or []),
            # The bad-token tests fail on purpose, all from 127.0.0.1: do not throttle them.
            "auth": auth or {"max_failures": 100000},
        }
        if tls:
            config["tls"] = tls
        else:
            config["insecure_plaintext"] = True
        (self.dir / "config.json").write_text(json.dumps(config, indent=2))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KWPY_", "KEYWARD_TOKEN"))}
        env.update(SERVER_ENV)  # bytes values: POSIX environments hold any byte but NUL
        self.stdout = open(self.dir / "stdout", "wb")
        self.proc = subprocess.Popen([str(bin_dir() / "keyward-server"), "--config", str(self.dir / "config.json")],
                                     stdin=subprocess.DEVNULL, stdout=self.stdout, stderr=subprocess.PIPE, env=env)
        self._err = bytearray()
        self._cond = threading.Condition()
        self._eof = False
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()
        m = self._wait_for(re.compile(rb"listening on 127\.0\.0\.1:(\d+)"))
        if m is None:
            self.proc.kill()
            self.proc.wait()
            self._reader.join(DEADLINE_S)
            self.proc.stderr.close()
            self.stdout.close()
            raise RuntimeError(f"keyward-server did not start listening within {DEADLINE_S}s "
                               f"(exit code {self.proc.returncode}):\n{self.stderr}")
        self.port = int(m.group(1))
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"

    def _pump(self) -> None:
        # Drains stderr as it comes (the server must never block on a full pipe) and wakes _wait_for.
        for chunk in iter(lambda: self.proc.stderr.read1(65536), b""):
            with self._cond:
                self._err += chunk
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def _wait_for(self, pattern: re.Pattern):
        with self._cond:
            self._cond.wait_for(lambda: pattern.search(self._err) or self._eof, timeout=DEADLINE_S)
            return pattern.search(self._err)

    @property
    def stderr(self) -> str:
        with self._cond:
            return self._err.decode(errors="replace")

    def audit_entries(self) -> list:
        """The audit log's entries so far, read beside the running server as an auditor would."""
        show = run([bin_dir() / "keyward-audit", "show", self.dir / "audit.db", "--json"], check=True)
        return json.loads(show.stdout.decode())

    def stop(self) -> None:
        try:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout=DEADLINE_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"keyward-server did not stop within {DEADLINE_S}s of SIGTERM:\n{self.stderr}")
            self._reader.join(DEADLINE_S)
            if code != 0:
                raise AssertionError(f"keyward-server exited with {code} after SIGTERM:\n{self.stderr}")
            verify = run([bin_dir() / "keyward-audit", "verify", self.dir / "audit.db", "--key", self.dir / "audit.pub",
                          "--checkpoint", self.dir / "checkpoints.notes"])
            if verify.returncode != 0:
                raise AssertionError(f"keyward-audit verify exited with {verify.returncode}:\n"
                                     f"{verify.stdout.decode()}{verify.stderr.decode()}")
            written = {p.name: p.read_bytes() for p in self.dir.iterdir() if p.is_file()}
            written["stderr"] = bytes(self._err)
            for name, data in written.items():
                for secret in SECRETS + [self.token.encode()]:  # nor the token (the config holds its hash)
                    if secret in data or base64.b64encode(secret) in data:
                        raise AssertionError(f"a secret value appears in {name}, written by keyward-server")
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._reader.join(DEADLINE_S)
            self.proc.stderr.close()
            self.stdout.close()
            shutil.rmtree(self.dir, ignore_errors=True)


class KeywardTestCase(unittest.TestCase):
    """assertKeywardError: the exception raised, checked to be of `cls` and to hold no secret value."""

    def assertNoSecret(self, text: str, what: str) -> None:
        for secret in SECRETS:
            for form in {secret.decode("utf-8", "backslashreplace"), repr(secret), secret.decode("latin-1")}:
                self.assertNotIn(form, text, f"a secret value appears in {what}")

    def assertKeywardError(self, cls, fn, *args, **kwargs) -> KeywardError:
        with self.assertRaises(cls) as cm:
            fn(*args, **kwargs)
        e = cm.exception
        self.assertIsInstance(e, KeywardError)
        for what, text in (("str", str(e)), ("repr", repr(e)), ("message", e.message),
                           ("traceback", "".join(traceback.format_exception(type(e), e, e.__traceback__)))):
            self.assertNoSecret(text, f"the {what} of {type(e).__name__}")
        return e


# --- against the real server, plain HTTP ----------------------------------------------------------


class ServerTest(KeywardTestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.server = KeywardServer()
        cls.client = KeywardClient(cls.server.url, cls.server.token)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.stop()  # SIGTERM, clean exit, keyward-audit verify, no value in what it wrote

    def test_resolve_returns_values_in_order_with_the_audit_range(self) -> None:
        r = self.client.resolve("demo", ["env:KWPY_DEMO_USER", "env:KWPY_DEMO_PASSWORD"])
        self.assertEqual(r.values, [USER, PASSWORD])
        self.assertEqual(r.audit.origin, ORIGIN)
        self.assertEqual(r.audit.last_seq - r.audit.first_seq, 1)  # one entry per secret
        self.assertEqual([s.ref for s in r.secrets], [SecretRef("env", "", "KWPY_DEMO_USER"),
                                                       SecretRef("env", "", "KWPY_DEMO_PASSWORD")])

    def test_resolve_one_returns_the_value(self) -> None:
        self.assertEqual(self.client.resolve_one("demo", "env:KWPY_DEMO_PASSWORD"), PASSWORD)

    def test_a_value_that_is_not_utf8_comes_back_as_bytes(self) -> None:
        r = self.client.resolve("demo", ["env:KWPY_DEMO_BINARY", "env:KWPY_DEMO_USER"])
        self.assertEqual(r.values, [BINARY, USER])
        self.assertIsInstance(r.values[0], bytes)

    def test_references_as_tuples_dicts_strings_and_a_named_dict(self) -> None:
        r = self.client.resolve("demo", [("env", "", "KWPY_DEMO_USER"), {"provider": "env", "key": "KWPY_DEMO_USER"},
                                         SecretRef("env", "", "KWPY_DEMO_USER"), "env:KWPY_DEMO_USER"])
        self.assertEqual(r.values, [USER] * 4)
        named = self.client.resolve("demo", {"sfUser": "env:KWPY_DEMO_USER", "sfPassword": ("env", "", "KWPY_DEMO_PASSWORD")})
        self.assertEqual(named.as_dict(), {"sfUser": USER, "sfPassword": PASSWORD})
        self.assertEqual(named["sfPassword"], PASSWORD)

    def test_results_print_redacted(self) -> None:
        r = self.client.resolve("demo", {"user": "env:KWPY_DEMO_USER", "bin": "env:KWPY_DEMO_BINARY"})
        for text in (repr(r), str(r), f"{r}", repr(r.secrets), str(r.secrets[0]), "%s" % (r.secrets[1],)):
            self.assertNoSecret(text, "a printed result")
            self.assertIn("redacted", text)
        with self.assertRaises(TypeError):
            pickle.dumps(r)
        with self.assertRaises(TypeError):
            pickle.dumps(r.secrets[0])

    def test_list_names_keys_the_principal_may_list(self) -> None:
        listing = self.client.list("demo", "env")
        self.assertEqual(listing.keys, ["KWPY_DEMO_BINARY", "KWPY_DEMO_PASSWORD", "KWPY_DEMO_USER"])
        self.assertEqual(len(listing), 3)
        self.assertEqual(listing.scopes, ())  # environment variables have no scopes
        self.assertIn("env:KWPY_DEMO_USER", listing)
        self.assertEqual(listing.audit.origin, ORIGIN)
        self.assertNoSecret(repr(listing), "a listing")

    def test_fabrics_are_the_principals_with_their_providers(self) -> None:
        self.assertEqual(self.client.fabrics(), [Fabric("demo", "livy", False, (FabricProvider("env", "environment"),))])

    def test_a_denied_secret_raises_permission_denied_naming_it(self) -> None:
        e = self.assertKeywardError(PermissionDenied, self.client.resolve, "demo",
                                    ["env:KWPY_DEMO_USER", "env:KWPY_SECRET_DENIED"], request_id="job-42.denied")
        self.assertEqual((e.code, e.http_status, e.request_id), ("permission_denied", 403, "job-42.denied"))
        self.assertEqual([d.ref for d in e.denied], [SecretRef("env", "", "KWPY_SECRET_DENIED")])
        self.assertEqual(e.denied[0].decided_by, "default")
        self.assertIn("1 of 2 secrets are denied", e.message)

    def test_a_fabric_without_a_rule_denies(self) -> None:
        e = self.assertKeywardError(PermissionDenied, self.client.resolve_one, "other", "env:KWPY_DEMO_USER")
        self.assertEqual(e.denied[0].ref, SecretRef("env", "", "KWPY_DEMO_USER"))

    def test_an_unknown_fabric_raises_not_found(self) -> None:
        e = self.assertKeywardError(NotFound, self.client.resolve_one, "no-such-fabric", "env:KWPY_DEMO_USER")
        self.assertEqual((e.code, e.http_status), ("not_found", 404))
        self.assertIn("no-such-fabric", e.message)
        self.assertKeywardError(NotFound, self.client.list, "no-such-fabric", "env")

    def test_an_unknown_provider_raises_not_found(self) -> None:
        self.assertKeywardError(NotFound, self.client.resolve_one, "demo", "vault:secret/x/password")

    def test_a_malformed_reference_raises_invalid_argument(self) -> None:
        e = self.assertKeywardError(InvalidArgument, self.client.resolve_one, "demo", "env:not-a-variable")
        self.assertEqual((e.code, e.http_status), ("invalid_argument", 400))
        self.assertKeywardError(InvalidArgument, self.client.list, "demo", "env", "a-scope")

    def test_a_bad_token_raises_unauthenticated(self) -> None:
        bad = KeywardClient(self.server.url, "kw_" + "A" * 43, request_id="bad-token-1")
        e = self.assertKeywardError(Unauthenticated, bad.resolve_one, "demo", "env:KWPY_DEMO_USER")
        self.assertEqual((e.code, e.http_status, e.request_id), ("unauthenticated", 401, "bad-token-1"))
        self.assertIn("unknown token", e.message)

    def test_no_token_raises_unauthenticated(self) -> None:
        saved = os.environ.pop(kc.TOKEN_ENV, None)
        try:
            e = self.assertKeywardError(Unauthenticated, KeywardClient(self.server.url).fabrics)
        finally:
            if saved is not None:
                os.environ[kc.TOKEN_ENV] = saved
        self.assertIn("no credentials", e.message)

    def test_the_token_may_come_from_the_environment(self) -> None:
        saved = os.environ.get(kc.TOKEN_ENV)
        os.environ[kc.TOKEN_ENV] = self.server.token + "\n"  # as read from a file: the newline is dropped
        try:
            client = KeywardClient(self.server.url)
        finally:
            if saved is None:
                del os.environ[kc.TOKEN_ENV]
            else:
                os.environ[kc.TOKEN_ENV] = saved
        self.assertEqual(client.resolve_one("demo", "env:KWPY_DEMO_USER"), USER)
        self.assertNotIn(self.server.token, repr(client))

    def test_writing_to_the_environment_provider_raises_unimplemented(self) -> None:
        for call in (lambda: self.client.put("demo", "env", "", "KWPY_DEMO_USER", WRITTEN_VALUE),
                     lambda: self.client.put("demo", "env", "", "KWPY_DEMO_NEW", WRITTEN_VALUE.encode() + b"\xff"),
                     lambda: self.client.delete("demo", "env", "", "KWPY_DEMO_USER")):
            e = self.assertKeywardError(Unimplemented, call)
            self.assertEqual((e.code, e.http_status), ("unimplemented", 405))
            self.assertIn("read-only", e.message)

    def test_the_clients_request_id_is_echoed(self) -> None:
        client = KeywardClient(self.server.url, self.server.token, request_id="spark-app-0042")
        self.assertEqual(client.resolve("demo", ["env:KWPY_DEMO_USER"]).request_id, "spark-app-0042")
        self.assertEqual(client.list("demo", "env").request_id, "spark-app-0042")
        self.assertEqual(client.resolve("demo", ["env:KWPY_DEMO_USER"], request_id="run:7").request_id, "run:7")
        e = self.assertKeywardError(NotFound, client.resolve_one, "nope", "env:KWPY_DEMO_USER")
        self.assertEqual(e.request_id, "spark-app-0042")

    def test_without_a_request_id_each_request_gets_its_own(self) -> None:
        a = self.client.resolve("demo", ["env:KWPY_DEMO_USER"]).request_id
        b = self.client.resolve("demo", ["env:KWPY_DEMO_USER"]).request_id
        self.assertRegex(a, r"^[0-9a-f]{32}$")
        self.assertNotEqual(a, b)

    def test_a_malformed_request_id_is_refused_before_sending(self) -> None:
        with self.assertRaises(ValueError):
            self.client.resolve("demo", ["env:KWPY_DEMO_USER"], request_id="has spaces")
        with self.assertRaises(ValueError):
            KeywardClient(self.server.url, request_id="x" * 129)

    def test_the_servers_own_refusals_carry_a_request_id(self) -> None:
        # 431: a request line longer than the header limit (8 KiB) is refused before its X-Request-Id
        # header is read, so the server names the request itself.
        client = KeywardClient(self.server.url, self.server.token, request_id="refused-1")
        e = self.assertKeywardError(InvalidArgument, client.list, "f" * 9000, "env")
        self.assertEqual(e.http_status, 431)
        self.assertIn("request header larger than", e.message)
        self.assertRegex(e.request_id, r"^kw-[0-9a-f]{8}-\d+$")
        # 413: the header was read, so the server answers with the client's id.
        e = self.assertKeywardError(InvalidArgument, client.put, "demo", "env", "", "KWPY_DEMO_BIG", "x" * 70000)
        self.assertEqual((e.http_status, e.request_id), (413, "refused-1"))
        self.assertIn("request body larger than 65536 bytes", e.message)
        # The server still serves.
        self.assertEqual(client.resolve_one("demo", "env:KWPY_DEMO_USER"), USER)

    def test_errors_survive_pickling(self) -> None:
        e = self.assertKeywardError(PermissionDenied, self.client.resolve_one, "demo", "env:KWPY_SECRET_DENIED")
        back = pickle.loads(pickle.dumps(e))
        self.assertIsInstance(back, PermissionDenied)
        self.assertEqual((back.code, back.message, back.request_id, back.http_status, back.denied),
                         (e.code, e.message, e.request_id, e.http_status, e.denied))


# --- listing scopes and throttling, against the real server ------------------------------------------

VAULT_TOKEN = "hvs.python-client-test"
DBX_TOKEN = "dapi-python-client-test"
# Names only: listing never reads a value, so the doubles hold none worth protecting.
VAULT_KV = {"team-a/db": ["user", "password", "root"], "team-a/db/replica": ["user"], "team-a/api": ["token"],
            "team-b/db": ["user"]}
DBX_SCOPES = {"sales": ["admin-key", "api-key", "client-id"], "marketing": ["token"]}

LISTING_POLICY = {
    "format": "keyward-policy/1",
    "description": "python client tests: listing",
    "providers": [{"id": "vault", "type": "vault"}, {"id": "dbx", "type": "databricks"},
                  {"id": "env", "type": "environment"}, {"id": "vault-stale", "type": "vault"}],
    "fabrics": [{"id": "lake", "kind": "databricks", "providers": ["vault", "dbx", "env", "vault-stale"]}],
    "rules": [
        {"id": "team-a-lists", "effect": "allow", "principals": ["pipeline-test"], "fabrics": ["lake"],
         "providers": ["vault", "vault-stale"], "secrets": ["secret/team-a/**/*"], "actions": ["list"]},
        {"id": "sales-lists", "effect": "allow", "principals": ["pipeline-test"], "fabrics": ["lake"],
         "providers": ["dbx"], "secrets": ["sales/*"], "actions": ["list"]},
        {"id": "env-lists", "effect": "allow", "principals": ["pipeline-test"], "fabrics": ["lake"],
         "providers": ["env"], "secrets": ["KWPY_DEMO_*"], "actions": ["list"]},
        {"id": "no-root", "effect": "deny", "principals": ["*"], "fabrics": ["*"], "providers": ["vault"],
         "secrets": ["secret/**/root"], "actions": ["*"]},
        {"id": "no-admin-keys", "effect": "deny", "principals": ["*"], "fabrics": ["*"], "providers": ["dbx"],
         "secrets": ["sales/admin-*"], "actions": ["*"]},
    ],
}


class _ProviderDouble(http.server.BaseHTTPRequestHandler):
    """Just enough of Vault (token auth, KV v1 mounted at secret/) and of the Databricks Secrets API for
    keyward to list names (VAULT_KV, DBX_SCOPES). Records every request in server.seen."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        path, query = urllib.parse.unquote(url.path), urllib.parse.parse_qs(url.query)
        self.server.seen.append(self.path)
        status, body = self._route(path, query)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self, path: str, query: dict):
        if path.startswith("/api/2.0/secrets/"):
            if self.headers.get("Authorization") != f"Bearer {DBX_TOKEN}":
                return 403, {"error_code": "PERMISSION_DENIED", "message": "Invalid access token."}
            if path == "/api/2.0/secrets/scopes/list":
                return 200, {"scopes": [{"name": n, "backend_type": "DATABRICKS"} for n in sorted(DBX_SCOPES)]}
            if path == "/api/2.0/secrets/list":
                scope = query.get("scope", [""])[0]
                if scope not in DBX_SCOPES:
                    return 404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": f"Scope {scope} does not exist!"}
                return 200, {"secrets": [{"key": k, "last_updated_timestamp": 0} for k in DBX_SCOPES[scope]]}
            return 404, {"error_code": "ENDPOINT_NOT_FOUND", "message": "no such endpoint"}
        if path == "/v1/sys/health":
            return 200, {"initialized": True, "sealed": False, "standby": False}
        if self.headers.get("X-Vault-Token") != VAULT_TOKEN:
            return 403, {"errors": ["permission denied"]}
        if path == "/v1/auth/token/lookup-self":
            return 200, {"data": {"ttl": 0, "renewable": False}}
        if path.startswith("/v1/sys/internal/ui/mounts/"):
            return 200, {"data": {"path": "secret/", "type": "kv", "options": {"version": "1"}}}
        if path.startswith("/v1/secret/"):
            rel = path[len("/v1/secret/"):].rstrip("/")
            if query.get("list") == ["true"]:
                prefix = rel + "/" if rel else ""
                children = sorted({p[len(prefix):].split("/")[0] + ("/" if "/" in p[len(prefix):] else "")
                                   for p in VAULT_KV if p.startswith(prefix)})
                return (200, {"data": {"keys": children}}) if children else (404, {"errors": []})
            if rel in VAULT_KV:
                return 200, {"data": {k: "-" for k in VAULT_KV[rel]}}
            return 404, {"errors": []}
        return 404, {"errors": []}

    def log_message(self, *args) -> None:
        pass


class ListingTest(KeywardTestCase):
    """Listing keys and sub-scopes of Vault and Databricks (test doubles), under LISTING_POLICY."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.double = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ProviderDouble)
        cls.double.seen = []
        threading.Thread(target=cls.double.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{cls.double.server_address[1]}"
        try:
            cls.server = KeywardServer(
                policy=LISTING_POLICY,
                providers=[{"id": "vault", "type": "vault", "address": url, "allow_plain_http": True,
                            "auth": {"method": "token", "token": {"file": "vault-token"}},
                            "http": {"retry": {"max_attempts": 1}}},
                           {"id": "dbx", "type": "databricks", "workspace_url": url, "allow_plain_http": True,
                            "token": {"file": "dbx-token"}},
                           # The same Vault, with a token it does not know.
                           {"id": "vault-stale", "type": "vault", "address": url, "allow_plain_http": True,
                            "auth": {"method": "token", "token": {"file": "stale-token"}},
                            "http": {"retry": {"max_attempts": 1}}}],
                files={"vault-token": VAULT_TOKEN, "dbx-token": DBX_TOKEN, "stale-token": "hvs.revoked"})
        except BaseException:
            cls.double.shutdown()
            cls.double.server_close()
            raise
        cls.client = KeywardClient(cls.server.url, cls.server.token)

    @classmethod
    def tearDownClass(cls) -> None:
        try:
            cls.server.stop()
        finally:
            cls.double.shutdown()
            cls.double.server_close()

    def test_a_bare_vault_mount_lists_the_sub_scopes_the_principal_may_list_in(self) -> None:
        listing = self.client.list("lake", "vault", "secret")
        self.assertEqual(listing.scopes, ("secret/team-a",))  # not secret/team-b: no rule lists anything there
        self.assertEqual((listing.keys, len(listing), list(listing)), ([], 0, []))
        self.assertIn("scopes=['secret/team-a']", repr(listing))

    def test_scopes_are_full_scopes_to_list_in_turn(self) -> None:
        team = self.client.list("lake", "vault", "secret/team-a")
        self.assertEqual(team.scopes, ("secret/team-a/api", "secret/team-a/db"))
        db = self.client.list("lake", "vault", team.scopes[1])
        # Each key is decided on its own: the deny rule no-root removes "root".
        self.assertEqual(db.keys, ["password", "user"])
        self.assertEqual(list(db), [SecretRef("vault", "secret/team-a/db", "password"),
                                    SecretRef("vault", "secret/team-a/db", "user")])
        self.assertEqual(db.scopes, ("secret/team-a/db/replica",))
        entry = self._entry(db.audit.first_seq)
        self.assertEqual((entry["action"], entry["decision"], entry["reason"], entry["scope"]),
                         ("list", "allow", "rule:team-a-lists", "secret/team-a/db"))
        self.assertEqual(entry["detail"], "2 of 3 keys, 1 of 1 scopes listed")

    def test_databricks_without_a_scope_lists_the_scopes(self) -> None:
        listing = self.client.list("lake", "dbx")
        self.assertEqual((listing.scopes, listing.keys), (("sales",), []))  # not marketing
        self.assertEqual(self.client.list("lake", "dbx", "sales").keys, ["api-key", "client-id"])  # not admin-key

    def test_where_nothing_may_be_listed_the_provider_is_not_asked(self) -> None:
        asked = len(self.double.seen)
        for provider, scope in (("vault", "secret/team-b"), ("vault", "secret/no-such-team"), ("dbx", "marketing"),
                                ("dbx", "no-such-scope")):
            with self.subTest(scope=scope):
                e = self.assertKeywardError(PermissionDenied, self.client.list, "lake", provider, scope)
                self.assertEqual(e.message, f"listing {provider}:{scope} is denied (default: no rule allows it)")
                entry = self._entry(None, e.request_id)
                self.assertEqual((entry["decision"], entry["reason"]), ("deny", "default"))
        self.assertEqual(len(self.double.seen), asked)  # whether the scope exists or not: the same answer

    def test_a_listable_scope_the_provider_does_not_have_is_an_empty_listing(self) -> None:
        # Not a 404: that would tell a scope with nothing in it apart from one whose names this principal
        # may not see.
        listing = self.client.list("lake", "vault", "secret/team-a/nothing")
        self.assertEqual((list(listing.keys), list(listing.scopes)), ([], []))
        entry = self._entry(None, listing.request_id)
        self.assertEqual((entry["action"], entry["decision"], entry["detail"]),
                         ("list", "allow", "0 of 0 keys, 0 of 0 scopes listed"))

    def test_a_missing_provider_names_the_ones_this_principal_may_use(self) -> None:
        e = self.assertKeywardError(InvalidArgument, self.client.list, "lake", "")
        self.assertEqual(e.message, "the query parameter 'provider' is required (here: vault, dbx, env, vault-stale)")

    def test_a_provider_refusing_keywards_credentials_is_unavailable_not_the_callers_problem(self) -> None:
        e = self.assertKeywardError(Unavailable, self.client.list, "lake", "vault-stale", "secret/team-a")
        self.assertEqual((e.code, e.http_status), ("unavailable", 503))
        self.assertIn("the provider refused keyward's own credentials (unauthenticated)", e.message)
        entry = self._entry(None, e.request_id)
        self.assertEqual((entry["decision"], entry["reason"]), ("error", "error:unauthenticated"))

    def _entry(self, seq, request_id=None) -> dict:
        for entry in self.server.audit_entries():
            if entry["seq"] == seq or (request_id is not None and entry["request_id"] == request_id):
                return entry
        self.fail(f"no audit entry {seq or request_id}")


class ThrottlingTest(KeywardTestCase):
    """An address that fails to authenticate max_failures times is refused (429) for block_ms."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.server = KeywardServer(auth={"max_failures": 2, "failure_window_ms": 60000, "block_ms": 1500})

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.stop()

    def test_the_failure_that_reaches_the_limit_and_what_follows_are_resource_exhausted(self) -> None:
        bad = KeywardClient(self.server.url, "kw_" + "B" * 43, request_id="throttle-1")
        good = KeywardClient(self.server.url, self.server.token, request_id="throttle-2")
        self.assertKeywardError(Unauthenticated, bad.fabrics)
        e = self.assertKeywardError(ResourceExhausted, bad.fabrics)  # the 2nd failure: refused, and recorded
        blocked_at = time.monotonic()
        self.assertEqual((e.code, e.http_status, e.request_id), ("resource_exhausted", 429, "throttle-1"))
        self.assertEqual(e.retry_after, 2)  # 1.5 s, rounded up
        self.assertIn("too many failed authentications", e.message)
        # From then on the address is refused without being checked: a valid token too.
        e = self.assertKeywardError(ResourceExhausted, good.resolve_one, "demo", "env:KWPY_DEMO_USER")
        self.assertEqual((e.code, e.request_id), ("resource_exhausted", "throttle-2"))
        self.assertIn(e.retry_after, (1, 2))
        self.assertIn("retry after", str(e))
        back = pickle.loads(pickle.dumps(e))
        self.assertEqual((type(back), back.retry_after), (ResourceExhausted, e.retry_after))
        # The block ends by itself: poll (refused attempts are not recorded and do not extend it).
        deadline = time.monotonic() + 30
        while True:
            try:
                value = good.resolve_one("demo", "env:KWPY_DEMO_USER")
                break
            except ResourceExhausted:
                self.assertLess(time.monotonic(), deadline, "the block never ended")
                time.sleep(0.05)
        self.assertEqual(value, USER)
        self.assertGreaterEqual(time.monotonic() - blocked_at, 1.0, "served before the block could have ended")
        auths = [(a["reason"], a["detail"]) for a in self.server.audit_entries() if a["action"] == "authenticate"]
        self.assertEqual(auths, [("unauthenticated", "unknown token"),
                                 ("throttled", "unknown token; too many failed authentications: further attempts "
                                               "from this address are refused for 2 s")])


# --- no server, or not a keyward server --------------------------------------------------------------


class ServerDownTest(KeywardTestCase):
    def test_nobody_listening_raises_unavailable_with_the_cause(self) -> None:
        client = KeywardClient(f"http://127.0.0.1:{free_port()}", "kw_x", request_id="down-1")
        e = self.assertKeywardError(Unavailable, client.resolve_one, "demo", "env:KWPY_DEMO_USER")
        self.assertEqual((e.code, e.http_status, e.request_id), ("unavailable", None, "down-1"))
        self.assertIsInstance(e.__cause__, ConnectionRefusedError)

    def test_a_server_that_never_answers_raises_unavailable_after_the_timeout(self) -> None:
        with socket.socket() as listener:  # accepts connections (backlog), never reads or answers
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            client = KeywardClient(f"http://127.0.0.1:{listener.getsockname()[1]}", "kw_x", timeout=0.2)
            e = self.assertKeywardError(Unavailable, client.put, "demo", "env", "", "K", WRITTEN_VALUE)
        self.assertIn("timed out", str(e))
        self.assertIsInstance(e.__cause__, (socket.timeout, TimeoutError))


class _Stub(http.server.BaseHTTPRequestHandler):
    """Answers with the (status, headers, body) the test sets in server.answer; records the requests."""

    def _answer(self) -> None:
        self.server.seen.append((self.command, self.path, dict(self.headers)))
        status, headers, body = self.server.answer
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, *args) -> None:
        pass


class NotKeywardTest(KeywardTestCase):
    """Answers keyward never gives: a redirect, a proxy's page, a malformed body."""

    def setUp(self) -> None:
        self.stub = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
        self.stub.seen = []
        threading.Thread(target=self.stub.serve_forever, daemon=True).start()
        self.client = KeywardClient(f"http://127.0.0.1:{self.stub.server_address[1]}", "kw_secret_token")

    def tearDown(self) -> None:
        self.stub.shutdown()
        self.stub.server_close()

    def test_a_redirect_is_not_followed(self) -> None:
        self.stub.answer = (307, {"Location": "http://127.0.0.1:1/elsewhere"}, b"")
        e = self.assertKeywardError(ProtocolError, self.client.resolve_one, "demo", "env:K")
        self.assertEqual(e.http_status, 307)
        self.assertEqual(len(self.stub.seen), 1)

    def test_a_proxy_error_page_is_unavailable_and_not_quoted(self) -> None:
        self.stub.answer = (502, {"Content-Type": "text/html"}, b"<html>Bad Gateway " + SECRETS[0] + b"</html>")
        e = self.assertKeywardError(Unavailable, self.client.fabrics)
        self.assertEqual((e.http_status, e.code), (502, "unavailable"))
        self.assertIn("without a keyward error body", e.message)

    def test_a_malformed_success_body_is_a_protocol_error_that_does_not_quote_it(self) -> None:
        self.stub.answer = (200, {}, b'{"secrets":[{"provider":"env","scope":"","key":"K","value":"' + SECRETS[1] + b'"')
        self.assertKeywardError(ProtocolError, self.client.resolve_one, "demo", "env:K")

    def test_the_request_shape(self) -> None:
        self.stub.answer = (200, {}, b'{"audit":{"origin":"o","first_seq":3,"last_seq":3}}')
        self.assertEqual(self.client.put("my fabric", "vault", "secret/a b/c", "pw", BINARY), AuditRange("o", 3, 3))
        self.client.delete("f", "env", "", "NAME")
        (m1, p1, h1), (m2, p2, _) = self.stub.seen
        self.assertEqual((m1, p1), ("PUT", "/v1/fabrics/my%20fabric/secrets/vault/secret/a%20b/c/pw"))
        self.assertEqual(h1["Authorization"], "Bearer kw_secret_token")
        self.assertRegex(h1["X-Request-Id"], r"^[0-9a-f]{32}$")
        self.assertEqual((m2, p2), ("DELETE", "/v1/fabrics/f/secrets/env/NAME"))  # an empty scope: no segment
        self.stub.answer = (200, {}, b'{"secrets":[],"audit":{"origin":"o","first_seq":4,"last_seq":4}}')
        self.client.list("f", "vault", "secret/a b+c")
        # '+' is sent as %2B: the server decodes a bare '+' in the query to a space.
        self.assertEqual(self.stub.seen[-1][1], "/v1/fabrics/f/secrets?provider=vault&scope=secret%2Fa%20b%2Bc")

    def test_listed_scopes_are_parsed_and_checked(self) -> None:
        audit = b'"audit":{"origin":"o","first_seq":4,"last_seq":4}'
        listed = b'"scopes":[{"provider":"vault","scope":"secret/a/b"}]'
        self.stub.answer = (200, {}, b'{"secrets":[],' + listed + b"," + audit + b"}")
        self.assertEqual(self.client.list("f", "vault", "secret/a").scopes, ("secret/a/b",))
        self.stub.answer = (200, {}, b'{"secrets":[],' + audit + b"}")  # a server from before sub-scopes
        self.assertEqual(self.client.list("f", "vault", "secret/a").scopes, ())
        for scopes in (b'"scopes":{}', b'"scopes":[{"provider":"vault"}]', b'"scopes":["secret/a/b"]'):
            with self.subTest(scopes=scopes):
                self.stub.answer = (200, {}, b'{"secrets":[],' + scopes + b"," + audit + b"}")
                self.assertKeywardError(ProtocolError, self.client.list, "f", "vault", "secret/a")


# --- no network --------------------------------------------------------------------------------------


class ResponseParsingTest(KeywardTestCase):
    REFS = [SecretRef("vault", "secret/a", "pw"), SecretRef("env", "", "K")]

    def parse(self, doc) -> kc.ResolveResult:
        body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        return kc._parse_resolve(body, self.REFS, [None, None], "rid-1")

    def answer(self, *secrets) -> dict:
        return {"secrets": list(secrets), "audit": {"origin": "o", "first_seq": 7, "last_seq": 8}}

    def test_base64_values_are_decoded_to_bytes(self) -> None:
        r = self.parse(self.answer(
            {"provider": "vault", "scope": "secret/a", "key": "pw", "value": base64.b64encode(BINARY).decode(),
             "encoding": "base64"},
            {"provider": "env", "scope": "", "key": "K", "value": PASSWORD}))
        self.assertEqual(r.values, [BINARY, PASSWORD])
        self.assertEqual((r.audit, r.request_id), (AuditRange("o", 7, 8), "rid-1"))
        self.assertEqual(r.as_dict(), {"vault:secret/a/pw": BINARY, "env:K": PASSWORD})

    def test_bad_base64_names_the_ref_not_the_value(self) -> None:
        e = self.assertKeywardError(ProtocolError, self.parse, self.answer(
            {"provider": "vault", "scope": "secret/a", "key": "pw", "value": "%%" + USER, "encoding": "base64"},
            {"provider": "env", "scope": "", "key": "K", "value": PASSWORD}))
        self.assertIn("vault:secret/a/pw", e.message)
        self.assertIsNone(e.__cause__)
        self.assertTrue(e.__suppress_context__)

    def test_answers_that_do_not_match_the_request(self) -> None:
        pw = {"provider": "vault", "scope": "secret/a", "key": "pw", "value": USER}
        k = {"provider": "env", "scope": "", "key": "K", "value": PASSWORD}
        for doc in (self.answer(pw), self.answer(k, pw), self.answer(pw, dict(k, encoding="rot13")),
                    self.answer(pw, dict(k, value=3)), {"secrets": [pw, k]}, b"\xff" + PASSWORD.encode(), b"[]"):
            with self.subTest(doc=type(doc).__name__):
                e = self.assertKeywardError(ProtocolError, self.parse, doc)
                self.assertIsNone(e.__cause__)

    def test_error_bodies_map_to_classes_by_code_then_by_status(self) -> None:
        def err(status, body, header_id=None):
            return kc._error_from_response(status, "Reason", body, header_id, "sent-id")
        denied = {"error": {"code": "permission_denied", "message": "1 of 1 secret is denied", "request_id": "srv-1",
                            "denied": [{"provider": "env", "scope": "", "key": "K", "decided_by": "default",
                                        "reason": "no rule matched"}]}}
        e = err(403, json.dumps(denied).encode())
        self.assertIsInstance(e, PermissionDenied)
        self.assertEqual((e.request_id, e.http_status, e.denied), ("srv-1", 403, (DeniedRef("env", "", "K", "default", "no rule matched"),)))
        self.assertIsInstance(err(409, b'{"error":{"code":"already_exists","message":"m"}}'), kc.AlreadyExists)
        self.assertIsInstance(err(503, b'{"error":{"code":"cancelled","message":"m"}}'), Unavailable)
        self.assertIsInstance(err(504, b'{"error":{"code":"deadline_exceeded","message":"m"}}'), kc.DeadlineExceeded)
        self.assertIsInstance(err(429, b'{"error":{"code":"resource_exhausted","message":"m"}}'), kc.ResourceExhausted)
        # The server's own refusals (413, 431, ...) carry a request id in the body too: the client's
        # when the server read it, else one of the server's own. A body without one (a proxy's, an older
        # server's): the header's, else the one sent.
        e = err(431, b'{"error":{"code":"invalid_argument","message":"request header larger than 8192 bytes",'
                     b'"request_id":"kw-0a1b2c3d-7"}}', "kw-0a1b2c3d-7")
        self.assertEqual((type(e), e.request_id, e.http_status), (InvalidArgument, "kw-0a1b2c3d-7", 431))
        e = err(413, b'{"error":{"code":"invalid_argument","message":"request body larger than 65536 bytes"}}', "hdr-1")
        self.assertEqual((type(e), e.request_id), (InvalidArgument, "hdr-1"))
        self.assertEqual(err(413, b"").request_id, "sent-id")
        # Retry-After, in seconds, when the server sent it (the HTTP-date form is not used).
        throttled = b'{"error":{"code":"resource_exhausted","message":"m","request_id":"r"}}'
        self.assertEqual(kc._error_from_response(429, "R", throttled, "r", "sent-id", "7").retry_after, 7)
        http_date = "Wed, 21 Oct 2026 07:28:00 GMT"
        self.assertIsNone(kc._error_from_response(429, "R", throttled, "r", "sent-id", http_date).retry_after)
        self.assertIsNone(err(429, throttled).retry_after)
        self.assertIsNone(kc._error_from_response(429, "R", throttled, "r", "sent-id", "\u00b2").retry_after)
        # A code this client does not know yet: by status; no body at all: by status.
        self.assertEqual((type(err(404, b'{"error":{"code":"gone_fishing","message":"m"}}')), err(404, b"").code),
                         (NotFound, "not_found"))
        self.assertIsInstance(err(418, b"teapot"), ProtocolError)


class ReferenceAndConfigurationTest(unittest.TestCase):
    def test_parse_splits_at_the_last_slash(self) -> None:
        self.assertEqual(SecretRef.parse("vault:secret/data-eng/snowflake/password"),
                         SecretRef("vault", "secret/data-eng/snowflake", "password"))
        self.assertEqual(SecretRef.parse("env:SPARK_HOME"), SecretRef("env", "", "SPARK_HOME"))
        self.assertEqual(SecretRef.parse("dbx:scope/a:b"), SecretRef("dbx", "scope", "a:b"))
        self.assertEqual(str(SecretRef("vault", "secret/a", "k")), "vault:secret/a/k")
        self.assertEqual(str(SecretRef("env", "", "K")), "env:K")
        for bad in ("no-provider", ":K", "vault:secret/", "env:"):
            with self.subTest(bad=bad), self.assertRaises(ValueError):
                SecretRef.parse(bad)

    def test_of_accepts_every_form_and_rejects_the_rest(self) -> None:
        want = SecretRef("env", "", "K")
        for ref in (want, "env:K", ("env", "", "K"), ["env", "", "K"], {"provider": "env", "key": "K"},
                    {"provider": "env", "scope": "", "key": "K"}):
            self.assertEqual(SecretRef.of(ref), want)
        for bad, exc in ((("env", "K"), ValueError), ({"provider": "env", "key": "K", "value": "x"}, ValueError),
                         ({"key": "K"}, ValueError), (("env", "", 3), TypeError), (42, TypeError)):
            with self.subTest(bad=bad), self.assertRaises(exc):
                SecretRef.of(bad)

    def test_resolve_wants_a_list(self) -> None:
        client = KeywardClient("http://127.0.0.1:1", "kw_x")
        for bad in ("env:K", SecretRef("env", "", "K"), {"provider": "env", "key": "K"}):
            with self.subTest(bad=bad), self.assertRaises(TypeError):
                client.resolve("demo", bad)
        with self.assertRaises(ValueError):
            client.resolve("demo", [])

    def test_configuration_mistakes_are_refused(self) -> None:
        for url in ("keyward:8642", "ftp://h", "https://", "https://h?x=1"):
            with self.subTest(url=url), self.assertRaises(ValueError):
                KeywardClient(url)
        with self.assertRaises(ValueError):  # TLS settings on a plain-HTTP URL
            KeywardClient("http://h:1", cafile="/etc/ssl/certs/ca-certificates.crt")
        with self.assertRaises(ValueError):
            KeywardClient("https://h:1", keyfile="client.key")

    def test_a_token_a_header_cannot_carry_is_refused_without_quoting_it(self) -> None:
        # Two tokens in one file during a rotation, a pasted curly quote: refused here, not by http.client
        # later with a message that quotes the whole Authorization header.
        for bad in ("kw_firstTOKENpart\nkw_secondTOKENpart", "kw_firstTOKENpart\u2019secondTOKENpart",
                    "kw_firstTOKENpart secondTOKENpart"):
            with self.subTest(bad=repr(bad)), self.assertRaises(ValueError) as cm:
                KeywardClient("http://127.0.0.1:1", bad)
            text = "".join(traceback.format_exception(type(cm.exception), cm.exception, cm.exception.__traceback__))
            self.assertNotIn("TOKENpart", text)
        self.assertIn("token=<set>", repr(KeywardClient("http://127.0.0.1:1", "kw_" + "A" * 42 + "-")))

    def test_a_value_that_cannot_be_utf8_is_refused_without_quoting_it(self) -> None:
        client = KeywardClient("http://127.0.0.1:1", "kw_x")
        with self.assertRaises(ValueError) as cm:
            client.put("demo", "vault", "secret/a", "k", "lone-\udcff-" + WRITTEN_VALUE)
        self.assertNotIn(WRITTEN_VALUE, "".join(traceback.format_exception(type(cm.exception), cm.exception,
                                                                            cm.exception.__traceback__)))


# --- TLS and mutual TLS against the real server ------------------------------------------------------


def _openssl(*args, cwd) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=DEADLINE_S)


def make_pki(d: Path) -> None:
    """A CA, a server certificate for 127.0.0.1 and a client certificate CN=pipeline-mtls, in d."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=keyward test CA",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    for name, cn, ext in (("server", "127.0.0.1", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth"),
                          ("client", "pipeline-mtls", "extendedKeyUsage=clientAuth")):
        (d / f"{name}.ext").write_text("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                                       "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n" + ext + "\n")
        _openssl("req", "-new", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=d)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-days", "2", "-out", f"{name}.pem", "-extfile", f"{name}.ext", cwd=d)
        os.chmod(d / f"{name}.key", 0o600)


class TlsServerTest(KeywardTestCase):
    @classmethod
    def setUpClass(cls) -> None:
        # Not skipped when openssl is missing: a TLS suite that silently does not run is a pass that lies.
        if shutil.which("openssl") is None:
            raise RuntimeError("the openssl command is needed to make test certificates (scripts/setup.sh installs it)")
        cls.pki = Path(tempfile.mkdtemp(prefix="keyward-pytest-pki-"))
        try:
            make_pki(cls.pki)
            cls.server = KeywardServer(
                tls={"certificate": str(cls.pki / "server.pem"), "private_key": str(cls.pki / "server.key"),
                     "client_ca": str(cls.pki / "ca.pem")},
                principals=[{"id": "pipeline-mtls", "certificates": ["CN=pipeline-mtls"]}])
        except BaseException:
            shutil.rmtree(cls.pki, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        try:
            cls.server.stop()
        finally:
            shutil.rmtree(cls.pki, ignore_errors=True)

    def test_a_token_over_tls_with_the_servers_ca(self) -> None:
        client = KeywardClient(self.server.url, self.server.token, cafile=str(self.pki / "ca.pem"))
        self.assertEqual(client.resolve_one("demo", "env:KWPY_DEMO_PASSWORD"), PASSWORD)

    def test_a_client_certificate_alone_authenticates(self) -> None:
        saved = os.environ.pop(kc.TOKEN_ENV, None)
        try:
            client = KeywardClient(self.server.url, cafile=str(self.pki / "ca.pem"),
                                   certfile=str(self.pki / "client.pem"), keyfile=str(self.pki / "client.key"))
        finally:
            if saved is not None:
                os.environ[kc.TOKEN_ENV] = saved
        self.assertEqual(client.resolve_one("demo", "env:KWPY_DEMO_USER"), USER)

    def test_a_server_certificate_from_an_unknown_ca_is_refused(self) -> None:
        client = KeywardClient(self.server.url, self.server.token)  # the system's CAs do not know the test CA
        e = self.assertKeywardError(Unavailable, client.resolve_one, "demo", "env:KWPY_DEMO_USER")
        self.assertIsInstance(e.__cause__, ssl.SSLError)

    def test_plain_http_to_a_tls_server_is_unavailable(self) -> None:
        client = KeywardClient(self.server.url.replace("https:", "http:"), self.server.token)
        self.assertKeywardError(Unavailable, client.fabrics)


if __name__ == "__main__":
    unittest.main()
