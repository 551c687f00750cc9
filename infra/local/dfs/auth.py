"""Shared Key and SAS, checked the way Azure Storage checks them, and Shared Key signing towards Azurite.

Incoming requests are verified against the account key: a Shared Key signature over the canonicalized
headers and resource (for IP-style URLs the resource is ``/<account>/<account>/<fs>/<path>``), or an account
or service SAS token in the query. Whatever passes is re-signed with the same key before it goes to
Azurite, so a request whose signature does not verify never reaches it.

Clients sort the ``x-ms-*`` headers in slightly different ways (the Python SDK mimics the service's collation,
Java sorts by code point, Azurite uses ICU); they only differ for unusual header names, and the verifier
accepts a signature made with any of them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Literal

from infra.local.dfs.errors import StorageError

CLOCK_SKEW = timedelta(minutes=15)
SIGNED_HEADERS = (
    "content-encoding",
    "content-language",
    "content-length",
    "content-md5",
    "content-type",
    "date",
    "if-modified-since",
    "if-match",
    "if-none-match",
    "if-unmodified-since",
    "range",
)
# Query parameters that belong to a SAS token (never forwarded to Azurite).
SAS_PARAMETERS = frozenset(
    [
        "sv",
        "ss",
        "srt",
        "sp",
        "se",
        "st",
        "sip",
        "spr",
        "sig",
        "sr",
        "si",
        "sdd",
        "ses",
        "skoid",
        "sktid",
        "skt",
        "ske",
        "sks",
        "skv",
        "saoid",
        "suoid",
        "scid",
        "sduoid",
        "skdutid",
        "srh",
        "srq",
        "rscc",
        "rscd",
        "rsce",
        "rscl",
        "rsct",
    ]
)

# --- header orderings -------------------------------------------------------------------------------------
_ICU_ORDER = "_-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789abcdefghijklmnopqrstuvwxyz"


def _icu_key(name: str) -> tuple[int, ...]:
    """ICU root collation for lower-case ASCII (what Azurite's ``localeCompare`` does)."""
    return tuple(_ICU_ORDER.find(c) if c in _ICU_ORDER else 1000 + ord(c) for c in name)


def _service_key(name: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The service's collation (mirrored by the Python SDK): hyphens and apostrophes ignored first."""
    primary = _icu_key("".join(c for c in name if c not in "-'"))
    return primary, tuple(i for i, c in enumerate(name) if c in "-'")


_ORDERINGS: tuple[Callable[[str], object], ...] = (_service_key, lambda name: name, _icu_key)


# --- Shared Key -------------------------------------------------------------------------------------------
def canonical_resource(account: str, path: str, query: Iterable[tuple[str, str]]) -> str:
    """``/<account><path>``, then ``\\nname:value[,value]`` per query parameter (names lower-cased)."""
    values: dict[str, list[str]] = {}
    for name, value in query:
        values.setdefault(name.lower(), []).append(value)
    lines = [f"/{account}{path}"]
    lines += [f"{name}:{','.join(sorted(values[name]))}" for name in sorted(values)]
    return "\n".join(lines)


def _canonical_headers(headers: Mapping[str, str], key: Callable[[str], Any]) -> str:
    names = sorted((n for n in headers if n.startswith("x-ms-")), key=key)
    return "".join(f"{n}:{headers[n].strip()}\n" for n in names)


def _string_to_sign(method: str, headers: Mapping[str, str], canonical_headers: str, resource: str) -> str:
    fixed = []
    for name in SIGNED_HEADERS:
        value = headers.get(name, "")
        fixed.append("" if name == "content-length" and value == "0" else value)
    return method + "\n" + "\n".join(fixed) + "\n" + canonical_headers + resource


def hmac_sha256(key: bytes, text: str) -> str:
    return base64.b64encode(hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()).decode()


def sign_for_azurite(
    key: bytes,
    account: str,
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
) -> str:
    """The ``Authorization`` value Azurite accepts for this request (lower-case header names)."""
    text = _string_to_sign(
        method, headers, _canonical_headers(headers, _icu_key), canonical_resource(account, path, query)
    )
    return f"SharedKey {account}:{hmac_sha256(key, text)}"


# --- what a verified request may do -------------------------------------------------------------------------
@dataclass(frozen=True)
class Grant:
    """The authority a request proved: the account key, a SAS token, or nothing."""

    kind: Literal["key", "account-sas", "service-sas", "anonymous"]
    permissions: str = ""
    resource_types: str = ""  # account SAS: s(ervice) c(ontainer) o(bject)
    filesystem: str | None = None  # service SAS scope
    scope_path: str = ""
    scope_is_blob: bool = False

    def require(self, level: str, account_letters: str, service_letters: str | None) -> None:
        """Raise unless this grant allows an operation at ``level`` (s/c/o) that needs one of the letters.

        ``service_letters`` None means a service SAS can never authorize the operation (e.g. container admin).
        """
        if self.kind == "key":
            return
        if self.kind == "anonymous":
            raise StorageError("NoAuthenticationInformation")
        if self.kind == "account-sas":
            if level not in self.resource_types:
                raise StorageError("AuthorizationResourceTypeMismatch")
            letters = account_letters
        elif service_letters is None:
            raise StorageError("AuthorizationResourceTypeMismatch")
        else:
            letters = service_letters
        if not any(letter in self.permissions for letter in letters):
            raise StorageError("AuthorizationPermissionMismatch")

    def covers(self, filesystem: str, path: str) -> bool:
        """True if a service SAS's signed resource includes ``filesystem/path`` (always true for the key)."""
        if self.kind != "service-sas":
            return self.kind != "anonymous"
        if filesystem != self.filesystem:
            return False
        if self.scope_is_blob:
            return path == self.scope_path
        return not self.scope_path or path == self.scope_path or path.startswith(self.scope_path + "/")


KEY_GRANT = Grant("key")
ANONYMOUS = Grant("anonymous")


@dataclass(frozen=True)
class SignedRequest:
    """The parts of an incoming request a signature covers."""

    method: str
    raw_path: str  # as sent, percent-encoded
    decoded_path: str
    query: list[tuple[str, str]]  # decoded
    headers: Mapping[str, str]  # lower-case names
    client_ip: str


class Authenticator:
    """Verifies Shared Key and SAS against the one account this endpoint serves."""

    def __init__(self, account: str, key_b64: str) -> None:
        self.account = account
        self.key = base64.b64decode(key_b64)

    def authenticate(self, request: SignedRequest, filesystem: str | None, path: str) -> Grant:
        authorization = request.headers.get("authorization")
        if authorization is not None:
            return self._shared_key(request, authorization)
        params = dict(request.query)
        if "sig" in params:
            return self.verify_sas(params, filesystem, path, request.client_ip)
        return ANONYMOUS

    # -- Shared Key --
    def _shared_key(self, request: SignedRequest, authorization: str) -> Grant:
        scheme, _, credential = authorization.partition(" ")
        if scheme != "SharedKey":
            raise StorageError(
                "AuthenticationFailed", "Only Shared Key and SAS authorization are supported here."
            )
        account, _, signature = credential.strip().partition(":")
        if not signature:
            raise StorageError("InvalidAuthenticationInfo")
        if account != self.account:
            raise StorageError("AuthenticationFailed", f"The account {account!r} is not served here.")
        _check_request_date(request.headers)
        resources = {
            canonical_resource(self.account, p, request.query)
            for p in (request.raw_path, request.decoded_path)
        }
        tried: set[str] = set()
        for order in _ORDERINGS:
            headers_text = _canonical_headers(request.headers, order)
            for resource in resources:
                text = _string_to_sign(request.method, request.headers, headers_text, resource)
                if text in tried:
                    continue
                tried.add(text)
                if hmac.compare_digest(hmac_sha256(self.key, text), signature):
                    return KEY_GRANT
        raise StorageError("AuthenticationFailed")

    # -- SAS --
    def verify_sas(
        self, params: Mapping[str, str], filesystem: str | None, path: str, client_ip: str
    ) -> Grant:
        version = params.get("sv", "")
        if "skoid" in params or "si" in params:
            raise StorageError(
                "AuthenticationFailed",
                "User delegation SAS and stored access policies are not supported here.",
            )
        if "ss" in params:
            grant, text = self._account_sas(params, version)
        elif "sr" in params:
            grant, text = self._service_sas(params, version, filesystem, path)
        else:
            raise StorageError("AuthenticationFailed", "The SAS token names neither services nor a resource.")
        if not hmac.compare_digest(hmac_sha256(self.key, text), params.get("sig", "")):
            raise StorageError("AuthenticationFailed", "Signature did not match.")
        _check_sas_window(params)
        if params.get("spr") == "https":
            raise StorageError("AuthorizationProtocolMismatch")
        if params.get("sip") and not _ip_allowed(client_ip, params["sip"]):
            raise StorageError("AuthorizationSourceIPMismatch")
        return grant

    def _account_sas(self, params: Mapping[str, str], version: str) -> tuple[Grant, str]:
        if version < "2015-04-05":
            raise StorageError("AuthenticationFailed", f"SAS version {version!r} is not supported.")
        fields = [self.account] + [
            params.get(n, "") for n in ("sp", "ss", "srt", "st", "se", "sip", "spr", "sv")
        ]
        if version >= "2020-12-06":
            fields.append(params.get("ses", ""))
        if "b" not in params.get("ss", ""):
            raise StorageError("AuthorizationServiceMismatch")
        grant = Grant("account-sas", permissions=params.get("sp", ""), resource_types=params.get("srt", ""))
        return grant, "\n".join(fields) + "\n"

    def _service_sas(
        self, params: Mapping[str, str], version: str, filesystem: str | None, path: str
    ) -> tuple[Grant, str]:
        if version < "2018-11-09":
            raise StorageError("AuthenticationFailed", f"SAS version {version!r} is not supported.")
        if filesystem is None:
            raise StorageError("AuthenticationFailed", "A service SAS cannot authorize account operations.")
        resource = params["sr"]
        if resource == "c":
            scope, is_blob = "", False
        elif resource in ("b", "bs", "bv"):
            scope, is_blob = path, True
        elif resource == "d":
            depth = int(params["sdd"]) if params.get("sdd", "").isdigit() else -1
            segments = path.split("/") if path else []
            if depth < 1 or len(segments) < depth:
                raise StorageError(
                    "AuthenticationFailed", "The directory depth of the SAS does not match the path."
                )
            scope, is_blob = "/".join(segments[:depth]), False
        else:
            raise StorageError("AuthenticationFailed", f"Unknown signed resource {resource!r}.")
        canonical = f"/blob/{self.account}/{filesystem}" + (f"/{scope}" if scope else "")
        fields = [params.get(n, "") for n in ("sp", "st", "se")] + [canonical]
        fields += [params.get(n, "") for n in ("si", "sip", "spr", "sv", "sr", "snapshot")]
        if version >= "2020-12-06":
            fields.append(params.get("ses", ""))
        fields += [params.get(n, "") for n in ("rscc", "rscd", "rsce", "rscl", "rsct")]
        grant = Grant(
            "service-sas",
            permissions=params.get("sp", ""),
            filesystem=filesystem,
            scope_path=scope,
            scope_is_blob=is_blob,
        )
        return grant, "\n".join(fields)


def _check_request_date(headers: Mapping[str, str]) -> None:
    value = headers.get("x-ms-date") or headers.get("date")
    if not value:
        raise StorageError("AuthenticationFailed", "The request has neither an x-ms-date nor a Date header.")
    try:
        stamp = parsedate_to_datetime(value)
    except (TypeError, ValueError) as exc:
        raise StorageError("InvalidHeaderValue", "The date header is not in RFC 1123 format.") from exc
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    if abs(datetime.now(UTC) - stamp) > CLOCK_SKEW:
        raise StorageError("AuthenticationFailed", "Request date header too old or too far in the future.")


def _parse_sas_time(value: str) -> datetime:
    for layout in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%MZ", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, layout).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise StorageError("AuthenticationFailed", f"The SAS time {value!r} is not valid.")


def _check_sas_window(params: Mapping[str, str]) -> None:
    now = datetime.now(UTC)
    if not params.get("se"):
        raise StorageError("AuthenticationFailed", "The SAS token has no expiry.")
    if now > _parse_sas_time(params["se"]):
        raise StorageError("AuthenticationFailed", "Signed expiry time has passed.")
    if params.get("st") and now + CLOCK_SKEW < _parse_sas_time(params["st"]):
        raise StorageError("AuthenticationFailed", "Signed start time is in the future.")


def _ip_allowed(client_ip: str, allowed: str) -> bool:
    try:
        address = ipaddress.ip_address(client_ip)
        low, _, high = allowed.partition("-")
        first, last = ipaddress.ip_address(low), ipaddress.ip_address(high or low)
        if not first.version == address.version == last.version:
            return False  # an IPv4 range never holds an IPv6 address (and the reverse)
        return int(first) <= int(address) <= int(last)
    except ValueError:
        return False
