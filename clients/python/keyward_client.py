"""keyward_client — resolve secrets from a keyward server, from Python (standard library only).

A pipeline asks keyward for the credentials it needs, on the fabric it runs on; keyward decides under
policy, records the access in its audit log, and only then answers. Nothing to install: copy this one
file next to your job (Python 3.9 or newer).

    from keyward_client import KeywardClient, PermissionDenied

    client = KeywardClient("https://keyward.internal:8642", cafile="/etc/keyward/ca.pem")
    # the token comes from the KEYWARD_TOKEN environment variable when not given

    password = client.resolve_one("emr-etl", "vault:secret/data-eng/snowflake/password")

    result = client.resolve("emr-etl", {
        "sfUser": "vault:secret/data-eng/snowflake/user",
        "sfPassword": "vault:secret/data-eng/snowflake/password",
    })
    options = result.as_dict()      # {"sfUser": "...", "sfPassword": "..."}
    print(result.audit)             # which audit log entries recorded the access (never values)

Secret references
    A secret is named by its provider (as the policy names it), a scope and a key. Give one as
      * a string "PROVIDER:SCOPE/KEY" — the scope and the key split at the last '/':
        "vault:secret/data-eng/snowflake/password", "dbx-prod:salesforce/api-key";
        or "PROVIDER:KEY" for environment variables, which have no scope: "env:SPARK_EXECUTOR_MEMORY";
      * a tuple (provider, scope, key), or a SecretRef, which is one;
      * a dict {"provider": ..., "scope": ..., "key": ...} ("scope" may be left out).

Listing
    list(fabric, provider, scope) returns a SecretListing of what this principal may list in that one
    scope: .keys (iterating yields their SecretRefs) and .scopes, the sub-scopes below which it may
    list something, each a full scope to pass to list() in turn — Vault paths below the one listed
    (listing a bare mount, "secret", is allowed), or, for a Databricks provider listed with the scope
    "", its secret scopes. Names only, never values:

        listing = client.list("emr-etl", "vault", "secret")     # a bare Vault mount
        listing.keys                                             # [] (a mount holds no keys itself)
        listing.scopes                                           # ("secret/data-eng",)
        for scope in listing.scopes:
            print(scope, client.list("emr-etl", "vault", scope).scopes)

    Where no rule lets the principal list anything in or below the scope, list() raises
    PermissionDenied, whether or not the scope exists. Listing is audited too.

Values
    A value is a str, or bytes when the secret is not valid UTF-8 (the server then sends it base64 and
    the client decodes it). The objects that hold values (Secret, ResolveResult) print as
    "<redacted>"; the client never logs, and no exception it raises contains a value. Python cannot
    wipe strings from memory: keep values in local variables for as short a time as you can, and do not
    print, log, cache or write them.

Errors
    Every failure raises a KeywardError subclass named for the server's error code — PermissionDenied,
    NotFound, Unauthenticated, InvalidArgument, Unimplemented, ResourceExhausted, Unavailable, ... —
    with .code, .message, .request_id and .http_status. PermissionDenied.denied lists the refused refs.
    ResourceExhausted (429) is also what an address gets once it has failed to authenticate too often:
    then every request from it is refused, valid token or not, and .retry_after says in how many
    seconds to try again. Network problems (refused connection, TLS failure, timeout, a connection
    closed without an answer — as keyward does with a request it did not receive in time) raise
    Unavailable with the original error as __cause__.

Request ids
    Each request carries an X-Request-Id, which the server records in every audit entry of the request
    and returns. Pass request_id= (to the client, or to one call) to correlate the accesses with your
    job run; otherwise the client makes a random one. Results and errors carry it as .request_id: the
    id the server answered with, which is the one sent — except when the server refused a request
    before reading its X-Request-Id header (a request header too large), and gave it one of its own.
"""

from __future__ import annotations

import base64
import json
import os
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Type, Union

__all__ = [
    "KeywardClient",
    "SecretRef",
    "Secret",
    "ResolveResult",
    "SecretListing",
    "AuditRange",
    "Fabric",
    "FabricProvider",
    "DeniedRef",
    "KeywardError",
    "InvalidArgument",
    "Unauthenticated",
    "PermissionDenied",
    "NotFound",
    "Unimplemented",
    "AlreadyExists",
    "FailedPrecondition",
    "Aborted",
    "ResourceExhausted",
    "Cancelled",
    "Internal",
    "DataLoss",
    "Unavailable",
    "DeadlineExceeded",
    "ProtocolError",
]

__version__ = "0.1.0"

TOKEN_ENV = "KEYWARD_TOKEN"

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}\Z")  # what the server accepts and echoes
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9._~+/-]+=*\Z")  # RFC 6750's b64token: what a bearer token may hold
_MAX_RESPONSE_BYTES = 32 << 20

Value = Union[str, bytes]
RefLike = Union["SecretRef", str, Tuple[str, str, str], Mapping]


# --- references, values and results -----------------------------------------------------------------


class SecretRef(NamedTuple):
    """Which secret: provider id (as the policy names it), scope and key. Never a value.

    str(ref) is the "PROVIDER:SCOPE/KEY" form (or "PROVIDER:KEY" when the scope is empty).
    """

    provider: str
    scope: str
    key: str

    def __str__(self) -> str:
        return f"{self.provider}:{self.scope}/{self.key}" if self.scope else f"{self.provider}:{self.key}"

    @classmethod
    def parse(cls, text: str) -> "SecretRef":
        """Parses "PROVIDER:SCOPE/KEY" (split at the last '/') or "PROVIDER:KEY".

        Raises ValueError when there is no "PROVIDER:" part or no key. Whether scope and key are
        well-formed for the provider's type is for the server to say (InvalidArgument).
        """
        if not isinstance(text, str):
            raise TypeError(f"a secret reference string must be a str, not {type(text).__name__}")
        provider, colon, rest = text.partition(":")
        if not colon or not provider:
            raise ValueError(f"secret {text!r} is not PROVIDER:SCOPE/KEY (or PROVIDER:KEY for environment variables)")
        scope, _, key = rest.rpartition("/")
        if not key:
            raise ValueError(f"secret {text!r} has no key after the last '/'")
        return cls(provider, scope, key)

    @classmethod
    def of(cls, ref: RefLike) -> "SecretRef":
        """Any accepted form of reference — SecretRef, string, (provider, scope, key) tuple, dict — as a SecretRef."""
        if isinstance(ref, SecretRef):
            return ref
        if isinstance(ref, str):
            return cls.parse(ref)
        if isinstance(ref, Mapping):
            unknown = set(ref) - {"provider", "scope", "key"}
            if unknown:
                raise ValueError(f"unknown field(s) {sorted(map(str, unknown))} in a secret reference: "
                                 "expected provider, scope, key")
            if "provider" not in ref or "key" not in ref:
                raise ValueError("a secret reference dict needs 'provider' and 'key' ('scope' is optional)")
            parts = (ref["provider"], ref.get("scope", ""), ref["key"])
        elif isinstance(ref, (tuple, list)):
            if len(ref) != 3:
                raise ValueError(f"a secret reference tuple is (provider, scope, key), got {len(ref)} item(s); "
                                 "use '' as the scope of an environment variable")
            parts = tuple(ref)
        else:
            raise TypeError(f"a secret reference is a 'PROVIDER:SCOPE/KEY' string, a (provider, scope, key) tuple "
                            f"or a dict, not {type(ref).__name__}")
        for name, part in zip(("provider", "scope", "key"), parts):
            if not isinstance(part, str):
                raise TypeError(f"the {name} of a secret reference must be a str, not {type(part).__name__}")
        if not parts[0] or not parts[2]:
            raise ValueError("a secret reference needs a provider and a key")
        return cls(*parts)


class AuditRange(NamedTuple):
    """The audit log entries that recorded a request: seq first_seq..last_seq of the log named origin.

    Give these to an auditor: `keyward-audit show DB --from FIRST --to LAST` prints the entries.
    """

    origin: str
    first_seq: int
    last_seq: int

    def __str__(self) -> str:
        return f"{self.origin} entries {self.first_seq}..{self.last_seq}"


class Secret:
    """One resolved secret: .ref (a SecretRef), .value (str, or bytes when not UTF-8) and .name (the
    name you gave it when resolving with a dict, else None). Prints as redacted."""

    __slots__ = ("ref", "value", "name")

    def __init__(self, ref: SecretRef, value: Value, name: Optional[str] = None) -> None:
        self.ref = ref
        self.value = value
        self.name = name

    def __repr__(self) -> str:
        named = f", name={self.name!r}" if self.name is not None else ""
        return f"Secret(ref={str(self.ref)!r}{named}, value=<redacted>)"

    __str__ = __repr__

    def __reduce__(self):
        # Pickling would copy the value into Spark closures, caches or files: refuse.
        raise TypeError("a keyward Secret cannot be pickled: resolve on the driver and pass only what a task needs")


class ResolveResult:
    """The answer to KeywardClient.resolve: every value, in the order asked, and where it was audited.

    .values     the values (str, or bytes for non-UTF-8 secrets), in request order
    .secrets    the same as Secret objects (ref, value, name)
    .audit      AuditRange of the entries that recorded this access
    .request_id the request id the server recorded
    result[i]   the i-th value; result["name"] the value named so in a dict request
    as_dict()   {name: value} for a dict request, else {"PROVIDER:SCOPE/KEY": value}

    Prints as redacted.
    """

    __slots__ = ("secrets", "audit", "request_id")

    def __init__(self, secrets: Sequence[Secret], audit: AuditRange, request_id: Optional[str]) -> None:
        self.secrets: Tuple[Secret, ...] = tuple(secrets)
        self.audit = audit
        self.request_id = request_id

    @property
    def values(self) -> List[Value]:
        return [s.value for s in self.secrets]

    def as_dict(self) -> Dict[str, Value]:
        return {s.name if s.name is not None else str(s.ref): s.value for s in self.secrets}

    def __len__(self) -> int:
        return len(self.secrets)

    def __getitem__(self, item: Union[int, str]) -> Value:
        if isinstance(item, int):
            return self.secrets[item].value
        for s in self.secrets:
            if s.name == item or (s.name is None and str(s.ref) == item):
                return s.value
        raise KeyError(item)

    def __repr__(self) -> str:
        refs = ", ".join(repr(s.name if s.name is not None else str(s.ref)) for s in self.secrets)
        return f"ResolveResult([{refs}], values=<redacted>, audit={tuple(self.audit)!r}, request_id={self.request_id!r})"

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("a keyward ResolveResult cannot be pickled: it holds secret values")


class SecretListing:
    """The answer to KeywardClient.list: what this principal may list in one scope (names, never values).

    .refs        the keys this principal may list there, as SecretRefs, in the server's order
    .keys        the same as key names
    .scopes      the sub-scopes below which this principal may list something, as full scopes to pass
                 to list() in turn ("secret/data-eng/snowflake"; a Databricks scope name when the scope
                 listed was ""), in the server's order
    .audit, .request_id   as for resolve

    Iterating yields the refs (not the scopes); len() counts them; `ref in listing` asks about one.
    """

    __slots__ = ("refs", "scopes", "audit", "request_id")

    def __init__(self, refs: Sequence[SecretRef], audit: AuditRange, request_id: Optional[str],
                 scopes: Sequence[str] = ()) -> None:
        self.refs: Tuple[SecretRef, ...] = tuple(refs)
        self.scopes: Tuple[str, ...] = tuple(scopes)
        self.audit = audit
        self.request_id = request_id

    @property
    def keys(self) -> List[str]:
        return [r.key for r in self.refs]

    def __iter__(self) -> Iterator[SecretRef]:
        return iter(self.refs)

    def __len__(self) -> int:
        return len(self.refs)

    def __contains__(self, ref: object) -> bool:
        try:
            return SecretRef.of(ref) in self.refs  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return False

    def __repr__(self) -> str:
        scopes = f", scopes={list(self.scopes)!r}" if self.scopes else ""
        return f"SecretListing({[str(r) for r in self.refs]!r}{scopes}, audit={tuple(self.audit)!r})"


class FabricProvider(NamedTuple):
    """A provider a fabric may use: its id and type ("vault", "databricks", "environment")."""

    id: str
    type: str


class Fabric(NamedTuple):
    """A fabric this principal may use: id, kind ("databricks", "emr", ...), managed, providers."""

    id: str
    kind: str
    managed: bool
    providers: Tuple[FabricProvider, ...]


class DeniedRef(NamedTuple):
    """A refused secret of a batch: which one, what decided ("rule:ID", "constraint:NAME" or
    "default" when no rule matched) and why."""

    provider: str
    scope: str
    key: str
    decided_by: str
    reason: str

    @property
    def ref(self) -> SecretRef:
        return SecretRef(self.provider, self.scope, self.key)

    def __str__(self) -> str:
        why = f": {self.reason}" if self.reason else ""
        return f"{self.ref} ({self.decided_by}{why})"


# --- errors -----------------------------------------------------------------------------------------


class KeywardError(Exception):
    """A request to keyward failed.

    .code         the server's error code ("permission_denied", ...; "unavailable" for network errors)
    .message      what the server (or the client) said, never containing a secret value
    .request_id   the request id, to find the request in the server's log and audit log
    .http_status  the HTTP status, or None when no answer arrived
    .denied       the refused refs (DeniedRef), when the server named them
    .retry_after  seconds to wait before trying again, when the server said (Retry-After), else None
    """

    code = "unknown"
    http_status_default: Optional[int] = None

    def __init__(self, message: str, *, code: Optional[str] = None, request_id: Optional[str] = None,
                 http_status: Optional[int] = None, denied: Iterable[DeniedRef] = (),
                 retry_after: Optional[int] = None) -> None:
        super().__init__(message)
        self.code = code or type(self).code
        self.message = message
        self.request_id = request_id
        self.http_status = http_status
        self.denied: Tuple[DeniedRef, ...] = tuple(denied)
        self.retry_after = retry_after

    def __str__(self) -> str:
        where = [f"HTTP {self.http_status}"] if self.http_status is not None else []
        if self.request_id:
            where.append(f"request id {self.request_id}")
        if self.retry_after is not None:
            where.append(f"retry after {self.retry_after} s")
        text = f"{self.code}: {self.message}"
        if self.denied:
            text += "; denied: " + ", ".join(map(str, self.denied))
        return f"{text} ({', '.join(where)})" if where else text

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, "
                f"http_status={self.http_status!r}, request_id={self.request_id!r})")

    def __reduce__(self):
        # Keeps the fields across pickling (Spark ships exceptions between processes).
        return (_rebuild_error, (type(self), self.message, self.code, self.request_id, self.http_status, self.denied,
                                 self.retry_after))


def _rebuild_error(cls, message, code, request_id, http_status, denied, retry_after=None):
    return cls(message, code=code, request_id=request_id, http_status=http_status, denied=denied,
               retry_after=retry_after)


class InvalidArgument(KeywardError):
    """400 (also 413, 431): a malformed request — a bad secret reference, too many secrets, too large."""
    code = "invalid_argument"


class Unauthenticated(KeywardError):
    """401: no token or client certificate, or one the server does not know."""
    code = "unauthenticated"


class PermissionDenied(KeywardError):
    """403: the policy refuses. .denied names every refused ref; nothing of the batch was fetched."""
    code = "permission_denied"


class NotFound(KeywardError):
    """404: no such fabric, provider or secret."""
    code = "not_found"


class Unimplemented(KeywardError):
    """405: the operation does not exist there — e.g. writing to the (read-only) environment provider."""
    code = "unimplemented"


class AlreadyExists(KeywardError):
    """409."""
    code = "already_exists"


class FailedPrecondition(KeywardError):
    """409: the provider refused the operation in its current state."""
    code = "failed_precondition"


class Aborted(KeywardError):
    """409: a conflict; retrying may succeed."""
    code = "aborted"


class ResourceExhausted(KeywardError):
    """429: too many failed authentications from this address — every request from it is then refused,
    valid credentials or not, for .retry_after seconds — or a provider's quota or size limit."""
    code = "resource_exhausted"


class Internal(KeywardError):
    """500: a bug in the server or a provider."""
    code = "internal"


class DataLoss(KeywardError):
    """500: the provider returned damaged data."""
    code = "data_loss"


class Unavailable(KeywardError):
    """503, or no answer at all: the server, a provider or the audit log cannot serve now (nothing was
    released) — a provider refusing keyward's own credentials included —, or the network failed (then
    __cause__ is the original error). Retrying later may work."""
    code = "unavailable"


class Cancelled(Unavailable):
    """503: the server cancelled the request (it is shutting down)."""
    code = "cancelled"


class DeadlineExceeded(KeywardError):
    """504: a provider did not answer in time. (A 408 from a proxy in between maps here too; keyward
    itself closes a request it did not receive in time without an answer: Unavailable.)"""
    code = "deadline_exceeded"


class ProtocolError(KeywardError):
    """The answer is not one keyward gives (a redirect, a proxy's error page, a malformed body): check
    the URL. Its message never quotes the body."""
    code = "protocol_error"


_BY_CODE: Dict[str, Type[KeywardError]] = {
    cls.code: cls
    for cls in (InvalidArgument, Unauthenticated, PermissionDenied, NotFound, Unimplemented, AlreadyExists,
                FailedPrecondition, Aborted, ResourceExhausted, Internal, DataLoss, Unavailable, Cancelled,
                DeadlineExceeded)
}
_BY_STATUS: Dict[int, Type[KeywardError]] = {
    400: InvalidArgument, 401: Unauthenticated, 403: PermissionDenied, 404: NotFound, 405: Unimplemented,
    408: DeadlineExceeded, 409: FailedPrecondition, 413: InvalidArgument, 429: ResourceExhausted,
    431: InvalidArgument, 500: Internal, 502: Unavailable, 503: Unavailable, 504: DeadlineExceeded,
}


def _retry_after(header: Optional[str]) -> Optional[int]:
    # Retry-After in delta-seconds, as keyward sends it; the HTTP-date form (from proxies) is not used.
    if header is None or not re.fullmatch(r"[0-9]{1,9}", header.strip()):
        return None
    return int(header.strip())


def _error_from_response(status: int, reason: str, body: bytes, header_request_id: Optional[str],
                         sent_request_id: str, retry_after: Optional[str] = None) -> KeywardError:
    """The exception for an HTTP error answer. The body of an error never holds a secret value; still,
    only the fields of keyward's error shape are taken from it, never raw text. The request id is the
    body's (keyward's own refusals — 413, 431, 400 for malformed HTTP, 503 for too many connections —
    carry one too), else the X-Request-Id header's, else the one sent."""
    fields: Mapping = {}
    try:
        doc = json.loads(body.decode("utf-8"))
        if isinstance(doc, dict) and isinstance(doc.get("error"), dict):
            fields = doc["error"]
    except (UnicodeDecodeError, ValueError):
        pass
    code = fields.get("code") if isinstance(fields.get("code"), str) else None
    message = fields.get("message") if isinstance(fields.get("message"), str) else None
    request_id = fields.get("request_id") if isinstance(fields.get("request_id"), str) else None
    request_id = request_id or header_request_id or sent_request_id
    denied = []
    for d in fields.get("denied") or ():
        if isinstance(d, dict):
            denied.append(DeniedRef(*(str(d.get(f, "")) for f in DeniedRef._fields)))
    if 300 <= status < 400:
        return ProtocolError(f"the server answered HTTP {status} {reason} (a redirect); keyward never redirects and "
                             "the client does not follow redirects: check the URL", request_id=request_id,
                             http_status=status)
    wait = _retry_after(retry_after)
    if code is None:
        cls = _BY_STATUS.get(status, Unavailable if status >= 500 else ProtocolError)
        return cls(f"HTTP {status} {reason}, without a keyward error body (a proxy in between, or not a keyward "
                   "server?)", request_id=request_id, http_status=status, retry_after=wait)
    cls = _BY_CODE.get(code) or _BY_STATUS.get(status, KeywardError)
    return cls(message or f"HTTP {status} {reason}", code=code, request_id=request_id, http_status=status,
               denied=denied, retry_after=wait)


# --- response shapes --------------------------------------------------------------------------------


def _bad_response(what: str, request_id: Optional[str], status: int = 200) -> ProtocolError:
    return ProtocolError(f"malformed answer from the server: {what}", request_id=request_id, http_status=status)


def _parse_json(body: bytes, request_id: Optional[str]) -> dict:
    # `from None` throughout: a JSONDecodeError or UnicodeDecodeError keeps the whole document, which may
    # hold secret values, and chaining it would put it where tracebacks are collected.
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        doc = None
    if not isinstance(doc, dict):
        raise _bad_response("the body is not a JSON object", request_id) from None
    return doc


def _parse_audit(doc: Mapping, request_id: Optional[str]) -> AuditRange:
    a = doc.get("audit")
    if (not isinstance(a, dict) or not isinstance(a.get("origin"), str)
            or not all(isinstance(a.get(f), int) and not isinstance(a.get(f), bool) for f in ("first_seq", "last_seq"))):
        raise _bad_response("no 'audit' object with origin, first_seq and last_seq", request_id)
    return AuditRange(a["origin"], a["first_seq"], a["last_seq"])


def _parse_resolve(body: bytes, refs: Sequence[SecretRef], names: Sequence[Optional[str]],
                   request_id: Optional[str]) -> ResolveResult:
    """Builds a ResolveResult from a 200 answer to POST /v1/resolve for `refs` (in order). Raises
    ProtocolError — naming refs, never values — when the answer does not match the request."""
    doc = _parse_json(body, request_id)
    items = doc.get("secrets")
    if not isinstance(items, list) or len(items) != len(refs):
        raise _bad_response(f"expected {len(refs)} secret(s) in 'secrets'", request_id)
    secrets = []
    for i, (item, ref, name) in enumerate(zip(items, refs, names)):
        if not isinstance(item, dict):
            raise _bad_response(f"secrets[{i}] is not an object", request_id)
        got = (item.get("provider"), item.get("scope", ""), item.get("key"))
        if got != tuple(ref):
            raise _bad_response(f"secrets[{i}] is not {ref} as requested", request_id)
        value = item.get("value")
        if not isinstance(value, str):
            raise _bad_response(f"secrets[{i}] ({ref}) has no string 'value'", request_id)
        encoding = item.get("encoding")
        if encoding == "base64":
            try:
                value = base64.b64decode(value.encode("ascii"), validate=True)
            except (UnicodeEncodeError, ValueError):
                raise _bad_response(f"secrets[{i}] ({ref}) is not valid base64", request_id) from None
        elif encoding is not None:
            raise _bad_response(f"secrets[{i}] ({ref}) has an unknown encoding", request_id)
        secrets.append(Secret(ref, value, name))
    return ResolveResult(secrets, _parse_audit(doc, request_id), request_id)


# --- the client -------------------------------------------------------------------------------------


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect would carry the Authorization header (and a value being written) to another place.
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102 (urllib's signature)
        return None


class KeywardClient:
    """A connection to one keyward server, for one principal. Safe to share between threads.

    base_url    "https://keyward.internal:8642" — plain "http://" only when you mean it (loopback, tests):
                tokens and values then cross the network in the clear.
    token       the bearer token of your principal; when None, the KEYWARD_TOKEN environment variable.
                Needed unless you authenticate with a client certificate.
    cafile      PEM file of the CA that signed the server's certificate (default: the system's CAs).
    certfile, keyfile
                your client certificate and its key (PEM), for mutual TLS; keyfile may be left out when
                certfile holds both.
    timeout     seconds to wait for the connection and for each read.
    request_id  sent as X-Request-Id with every request of this client (e.g. your job's run id; letters,
                digits and . _ : -, at most 128); by default each request gets a random one.

    The standard proxy variables (https_proxy, no_proxy, ...) are honoured, as by urllib. Redirects
    are never followed.
    """

    def __init__(self, base_url: str, token: Optional[str] = None, *, cafile: Optional[str] = None,
                 certfile: Optional[str] = None, keyfile: Optional[str] = None, timeout: float = 10.0,
                 request_id: Optional[str] = None) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("https", "http") or not parsed.netloc:
            raise ValueError(f"base_url {base_url!r} must be https://HOST[:PORT] (or http:// for a plain-HTTP server)")
        if parsed.query or parsed.fragment:
            raise ValueError(f"base_url {base_url!r} must not have a query or a fragment")
        if parsed.scheme == "http" and (cafile or certfile or keyfile):
            raise ValueError("cafile, certfile and keyfile are TLS settings, but base_url is plain http://: "
                             "use https://")
        if keyfile and not certfile:
            raise ValueError("keyfile given without certfile")
        self._base = base_url.rstrip("/")
        self._timeout = timeout
        self._request_id = _check_request_id(request_id) if request_id is not None else None
        if token is None:
            token = os.environ.get(TOKEN_ENV)
        token = token.strip() if token else None
        if token and not _TOKEN_CHARS.fullmatch(token):
            # Not quoted: the error would carry the token wherever it is logged. (A token with a newline or
            # a non-ASCII character would otherwise fail later, in http.client, with a message quoting it.)
            raise ValueError("the token holds characters a bearer token cannot (RFC 6750: letters, digits and "
                             "-._~+/ then '='; a keyward token is kw_ and 43 characters of base64url); "
                             "check the token file or KEYWARD_TOKEN")
        self._authorization = f"Bearer {token}" if token else None
        handlers: List[urllib.request.BaseHandler] = [_RefuseRedirects()]
        if parsed.scheme == "https":
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            if certfile:
                context.load_cert_chain(certfile, keyfile)
            handlers.append(urllib.request.HTTPSHandler(context=context))
        self._opener = urllib.request.build_opener(*handlers)

    def __repr__(self) -> str:
        return f"KeywardClient({self._base!r}, token={'<set>' if self._authorization else None})"

    # -- operations --

    def resolve(self, fabric: str, secrets: Union[Iterable[RefLike], Mapping[str, RefLike]], *,
                request_id: Optional[str] = None) -> ResolveResult:
        """Resolves a batch of secrets on `fabric`, all or nothing.

        secrets     a list of references (see the module's help), or a dict {name: reference} to get the
                    values back by your own names (result.as_dict(), result["name"]).

        Returns a ResolveResult: .values in the order asked (str, or bytes when a secret is not UTF-8),
        and .audit, the audit log entries that recorded the access. Raises PermissionDenied (with
        .denied) when the policy refuses any of them — then none is returned; NotFound for an unknown
        fabric or provider, or a secret that does not exist; InvalidArgument for a malformed reference;
        Unavailable when the server, a provider or the audit log cannot serve.
        """
        if isinstance(secrets, (str, bytes, SecretRef)):
            raise TypeError("resolve() takes a list (or dict) of secret references; for one secret use "
                            "resolve_one(fabric, ref)")
        if isinstance(secrets, Mapping) and not {"provider", "key"} <= set(secrets):
            names: List[Optional[str]] = [str(n) for n in secrets]
            refs = [SecretRef.of(r) for r in secrets.values()]
        elif isinstance(secrets, Mapping):
            raise TypeError("resolve() takes a list of references: wrap a single {'provider', 'scope', 'key'} "
                            "dict in a list, or use resolve_one()")
        else:
            refs = [SecretRef.of(r) for r in secrets]
            names = [None] * len(refs)
        if not refs:
            raise ValueError("resolve() needs at least one secret reference")
        body = {"fabric": _check_str("fabric", fabric),
                "secrets": [{"provider": r.provider, "scope": r.scope, "key": r.key} for r in refs]}
        status, data, rid = self._call("POST", "/v1/resolve", body, request_id)
        return _parse_resolve(data, refs, names, rid)

    def resolve_one(self, fabric: str, ref: RefLike, *, request_id: Optional[str] = None) -> Value:
        """Resolves one secret on `fabric` and returns its value (str, or bytes when not UTF-8).

            password = client.resolve_one("emr-etl", "vault:secret/data-eng/snowflake/password")

        Raises as resolve() does.
        """
        return self.resolve(fabric, [ref], request_id=request_id).values[0]

    def list(self, fabric: str, provider: str, scope: str = "", *, request_id: Optional[str] = None) -> SecretListing:
        """Lists what this principal may list in `scope` at `provider` on `fabric`: the keys (names, never
        values) and the sub-scopes below which it may list more (.scopes, full scopes to list in turn).

        scope   "" for environment variables; a Vault mount or path ("secret", "secret/data-eng");
                a Databricks secret scope, or "" for the list of Databricks scopes.

        Returns a SecretListing (possibly empty). Raises PermissionDenied when no rule lets this
        principal list anything in or below the scope (whether or not it exists: the provider is not
        asked then); NotFound for an unknown fabric or provider (a scope the provider does not have is
        an empty listing); InvalidArgument for a scope malformed for the provider. The listing is
        audited too."""
        # quote: a space is sent as %20 and '+' as %2B (the server would take a bare '+' for a space).
        query = urllib.parse.urlencode({"provider": _check_str("provider", provider), "scope": _check_str("scope", scope)},
                                       quote_via=urllib.parse.quote)
        path = f"/v1/fabrics/{_segment(fabric, 'fabric')}/secrets?{query}"
        _, data, rid = self._call("GET", path, None, request_id)
        doc = _parse_json(data, rid)
        items = doc.get("secrets")
        if not isinstance(items, list):
            raise _bad_response("no 'secrets' list", rid)
        refs = []
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("key"), str):
                raise _bad_response("an entry of 'secrets' has no key", rid)
            refs.append(SecretRef(str(item.get("provider", provider)), str(item.get("scope", scope)), item["key"]))
        scope_items = doc.get("scopes", [])  # servers before sub-scopes were listed do not send it
        if not isinstance(scope_items, list):
            raise _bad_response("'scopes' is not a list", rid)
        scopes = []
        for item in scope_items:
            if not isinstance(item, dict) or not isinstance(item.get("scope"), str):
                raise _bad_response("an entry of 'scopes' has no scope", rid)
            scopes.append(item["scope"])
        return SecretListing(refs, _parse_audit(doc, rid), rid, scopes)

    def fabrics(self, *, request_id: Optional[str] = None) -> List[Fabric]:
        """The fabrics this principal may use, each with its kind and providers (ids and types; never
        credentials). Not audited: it reveals the policy, not secrets."""
        _, data, rid = self._call("GET", "/v1/fabrics", None, request_id)
        doc = _parse_json(data, rid)
        items = doc.get("fabrics")
        if not isinstance(items, list):
            raise _bad_response("no 'fabrics' list", rid)
        out = []
        for f in items:
            if not isinstance(f, dict) or not isinstance(f.get("id"), str):
                raise _bad_response("an entry of 'fabrics' has no id", rid)
            providers = tuple(FabricProvider(str(p.get("id", "")), str(p.get("type", "")))
                              for p in f.get("providers") or () if isinstance(p, dict))
            out.append(Fabric(f["id"], str(f.get("kind", "")), bool(f.get("managed", False)), providers))
        return out

    def put(self, fabric: str, provider: str, scope: str, key: str, value: Value, *,
            request_id: Optional[str] = None) -> AuditRange:
        """Writes a secret (creating or replacing it) through keyward, when the policy allows "write".

        value   a str, or bytes (sent base64 when not valid UTF-8).

        Returns the AuditRange that recorded the write — recorded before it happens. Raises
        Unimplemented for a read-only provider (environment variables), PermissionDenied, NotFound, ...
        """
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                # The UnicodeEncodeError holds the value: do not chain it.
                raise ValueError("the value is not encodable as UTF-8 (it holds lone surrogates); "
                                 "pass bytes instead") from None
            body = {"value": value}
        elif isinstance(value, (bytes, bytearray, memoryview)):
            raw = bytes(value)
            try:
                body = {"value": raw.decode("utf-8")}
            except UnicodeDecodeError:
                body = {"value": base64.b64encode(raw).decode("ascii"), "encoding": "base64"}
        else:
            raise TypeError(f"a secret value is a str or bytes, not {type(value).__name__}")
        _, data, rid = self._call("PUT", self._secret_path(fabric, provider, scope, key), body, request_id)
        return _parse_audit(_parse_json(data, rid), rid)

    def delete(self, fabric: str, provider: str, scope: str, key: str, *,
               request_id: Optional[str] = None) -> AuditRange:
        """Deletes a secret through keyward, when the policy allows "delete". Returns the AuditRange that
        recorded it. Raises as put() does."""
        _, data, rid = self._call("DELETE", self._secret_path(fabric, provider, scope, key), None, request_id)
        return _parse_audit(_parse_json(data, rid), rid)

    # -- transport --

    @staticmethod
    def _secret_path(fabric: str, provider: str, scope: str, key: str) -> str:
        # /v1/fabrics/{fabric}/secrets/{provider}/{scope...}/{key}: each segment of the scope is a path
        # segment (percent-encoded; an encoded '/' is refused by the server). An empty scope (environment
        # variables) has no segment: .../secrets/env/NAME.
        segments = [_segment(fabric, "fabric"), "secrets", _segment(provider, "provider")]
        if _check_str("scope", scope):
            segments += [_segment(s, "scope", allow_empty=True) for s in scope.split("/")]
        segments.append(_segment(key, "key"))
        return "/v1/fabrics/" + "/".join(segments)

    def _call(self, method: str, path: str, body: Optional[dict],
              request_id: Optional[str]) -> Tuple[int, bytes, Optional[str]]:
        """Sends one request; returns (status, body, request id) of a 2xx answer, raises KeywardError
        for anything else."""
        rid = _check_request_id(request_id) if request_id is not None else (self._request_id or uuid.uuid4().hex)
        headers = {"Accept": "application/json", "X-Request-Id": rid, "User-Agent": f"keyward-python/{__version__}"}
        if self._authorization:
            headers["Authorization"] = self._authorization
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self._base + path, data=data, headers=headers, method=method)
        try:
            with self._opener.open(req, timeout=self._timeout) as resp:
                payload = resp.read(_MAX_RESPONSE_BYTES + 1)
                if len(payload) > _MAX_RESPONSE_BYTES:
                    raise _bad_response(f"larger than {_MAX_RESPONSE_BYTES} bytes", rid)
                return resp.status, payload, resp.headers.get("X-Request-Id") or rid
        except urllib.error.HTTPError as e:
            try:
                err_body = e.read(1 << 20)
            except Exception:  # the answer was cut short: still report its status
                err_body = b""
            finally:
                e.close()
            error = _error_from_response(e.code, str(e.reason), err_body, e.headers.get("X-Request-Id"), rid,
                                         e.headers.get("Retry-After"))
        except KeywardError:
            raise
        except (urllib.error.URLError, OSError, ValueError, ssl.SSLError) as e:
            # ValueError: http.client rejects some malformed answers with it (e.g. an invalid status line).
            # The cause is what went wrong (ConnectionRefusedError, ssl.SSLCertVerificationError, TimeoutError,
            # ...), not urllib's wrapper around it.
            cause = e.reason if isinstance(e, urllib.error.URLError) and isinstance(e.reason, BaseException) else e
            raise Unavailable(f"no answer from keyward at {self._base}: {_describe(cause)}", request_id=rid) from cause
        except Exception as e:  # http.client.HTTPException and the like: the connection broke mid-answer
            raise Unavailable(f"no answer from keyward at {self._base}: {_describe(e)}", request_id=rid) from e
        raise error  # outside the except block: not chained to urllib's HTTPError


def _describe(e: BaseException) -> str:
    text = str(e)
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _check_str(name: str, v: object) -> str:
    if not isinstance(v, str):
        raise TypeError(f"{name} must be a str, not {type(v).__name__}")
    return v


def _segment(v: object, name: str, allow_empty: bool = False) -> str:
    s = _check_str(name, v)
    if not s and not allow_empty:
        raise ValueError(f"{name} must not be empty")
    return urllib.parse.quote(s, safe="")


def _check_request_id(rid: object) -> str:
    if not isinstance(rid, str) or not _REQUEST_ID.match(rid):
        raise ValueError(f"request id {rid!r} is not 1 to 128 of letters, digits and . _ : - "
                         "(the server would replace it with its own)")
    return rid
