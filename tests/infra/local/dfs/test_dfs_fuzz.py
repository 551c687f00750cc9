"""Bounded fuzzing of the DFS endpoint on loopback: malformed names, queries, SAS tokens, headers, lengths and
bodies. Every input has an exact expected answer (Azure's status and error code, or a bare 400 where the HTTP
layer refuses the message as Azure's front end does); every refusal is logged; the endpoint keeps serving and
nothing a refused request carried is stored.

Inputs come from a seeded generator (the same ones every run), about 1,500 in all, against a private stack.
"""

from __future__ import annotations

import base64
import http.client
import random
import re
import socket
import string
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote

import httpx
import pytest
from azure.storage.filedatalake import AccountSasPermissions, ResourceTypes, generate_account_sas
from dfs_testkit import PrivateStack, RawRequest, signed_request

from infra.settings import Settings

pytestmark = pytest.mark.services

SEED = 12
PER_KIND = 60  # inputs generated for each kind below
FILE = "fuzz/target.bin"  # an existing file the valid operations address


@dataclass(frozen=True)
class Case:
    kind: str
    request: RawRequest
    status: int
    code: str | None  # None: refused by the HTTP layer (no storage error code)


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: the connection closed without an answer
    code: str | None


def _word(rng: random.Random, size: int = 6) -> str:
    return "".join(rng.choices(string.ascii_lowercase + string.digits, k=size))


def _cases(settings: Settings, fs: str, rng: random.Random) -> Iterator[Case]:
    account = settings.storage_account
    base = f"/{account}/{fs}"

    def put(raw_path: str, **extra: str) -> RawRequest:
        return signed_request(settings, "PUT", raw_path, [("resource", "file")], headers=dict(extra))

    # --- names ---------------------------------------------------------------------------------------
    bad_names = {
        "dot-dot segment": (lambda w: f"{base}/{w}/../{w}", "InvalidResourceName"),
        "dot segment": (lambda w: f"{base}/{w}/./x", "InvalidResourceName"),
        "empty segment": (lambda w: f"{base}/{w}//x", "InvalidResourceName"),
        "control character": (lambda w: f"{base}/{w}%{rng.randrange(0, 32):02X}x", "InvalidResourceName"),
        "backslash": (lambda w: f"{base}/{w}%5C{w}", "InvalidResourceName"),
        "segment over 255 bytes": (lambda w: f"{base}/{w * 43}", "InvalidResourceName"),
        "invalid UTF-8": (
            lambda w: f"{base}/{w}%{rng.choice(['FF', 'C3%28', 'E2%82', 'ED%A0%80'])}",
            "InvalidUri",
        ),
        "bad filesystem name": (
            lambda w: f"/{account}/{rng.choice(['AB', 'a_b', 'x', '-ab', 'ab-', 'a--b', w.upper()])}/f",
            "InvalidResourceName",
        ),
    }
    for kind, (make, code) in bad_names.items():
        for _ in range(PER_KIND):
            yield Case(kind, put(make(_word(rng))), 400, code)

    # --- query parameters ----------------------------------------------------------------------------
    for _ in range(PER_KIND):
        extra = [(f"zz{_word(rng, 4)}", _word(rng))]
        head = signed_request(settings, "HEAD", f"{base}/{FILE}", [("action", "getStatus"), *extra])
        yield Case("unknown parameter on a status lookup", head, 200, None)
        listing = signed_request(
            settings, "GET", base, [("resource", "filesystem"), ("recursive", "true"), *extra]
        )
        yield Case("unknown parameter on a listing", listing, 200, None)
        patch = signed_request(settings, "PATCH", f"{base}/{FILE}", [("action", "zz" + _word(rng))])
        yield Case("unknown action", patch, 400, "InvalidQueryParameterValue")
        create = signed_request(settings, "PUT", f"{base}/q{_word(rng)}", [("resource", "zz" + _word(rng))])
        yield Case("unknown resource type", create, 400, "InvalidQueryParameterValue")
        bad_max = rng.choice(["0", "-1", "abc", "1.5", "9" * 30 + "x"])
        listing = signed_request(settings, "GET", base, [("resource", "filesystem"), ("maxResults", bad_max)])
        yield Case("bad maxResults", listing, 400, "InvalidQueryParameterValue")
        token = base64.urlsafe_b64encode(rng.randbytes(rng.randrange(1, 40))).decode()
        listing = signed_request(settings, "GET", base, [("resource", "filesystem"), ("continuation", token)])
        yield Case("bad continuation token", listing, 400, "InvalidQueryParameterValue")
        append = signed_request(
            settings,
            "PATCH",
            f"{base}/{FILE}",
            [("action", "append"), ("position", rng.choice(["-1", "x", ""]))],
        )
        yield Case("bad position", append, 400, "InvalidQueryParameterValue")
        raw = RawRequest("GET", f"{base}?resource=filesystem&zz=%{rng.choice(['FF', 'C0%AF', 'E2%82'])}", {})
        yield Case("query not UTF-8", raw, 400, "InvalidQueryParameterValue")

    # --- SAS tokens ----------------------------------------------------------------------------------
    sas = generate_account_sas(
        account,
        settings.storage_key.get_secret_value(),
        ResourceTypes(service=True, file_system=True, object=True),
        AccountSasPermissions(read=True, list=True),
        datetime.now(UTC) + timedelta(hours=1),
    )
    fields = {name: unquote(value) for name, value in (item.split("=", 1) for item in sas.split("&"))}

    def corrupt(token: dict[str, str]) -> dict[str, str]:
        broken = dict(token)
        choice = rng.randrange(8)
        if choice == 0:  # one character of the signature changed
            sig = list(broken["sig"])
            at = rng.randrange(len(sig) - 1)  # the last character may be base64 padding
            sig[at] = "A" if sig[at] != "A" else "B"
            broken["sig"] = "".join(sig)
        elif choice == 1:
            broken["sp"] = "rwdlac"  # more permissions than signed
        elif choice == 2:
            broken["se"] = "2001-01-01T00:00:00Z"  # expiry moved, not re-signed
        elif choice == 3:
            del broken["se"]
        elif choice == 4:
            broken["sig"] = _word(rng, 20) + "!!"
        elif choice == 5:
            broken["sv"] = "2010-01-01"
        elif choice == 6:
            broken = {"sv": broken["sv"], "sr": "zz", "sp": "r", "se": broken["se"], "sig": broken["sig"]}
        else:
            broken["skoid"] = _word(rng)  # user delegation without a delegation key
        return broken

    for _ in range(PER_KIND * 4):
        query = "&".join(f"{k}={quote(v, safe='')}" for k, v in corrupt(fields).items())
        request = RawRequest("GET", f"{base}?resource=filesystem&{query}", {"x-ms-version": "2021-12-02"})
        yield Case("bad SAS token", request, 403, "AuthenticationFailed")

    # --- headers -------------------------------------------------------------------------------------
    now = datetime.now(UTC)
    for _ in range(PER_KIND):
        name = f"{base}/h{_word(rng)}"
        yield Case(
            "property without a value",
            put(name, **{"x-ms-properties": _word(rng)}),
            400,
            "InvalidPropertyName",
        )
        yield Case(
            "property name not an identifier",
            put(name, **{"x-ms-properties": "1" + _word(rng) + "=AA=="}),
            400,
            "InvalidPropertyName",
        )
        yield Case(
            "property value not base64",
            put(name, **{"x-ms-properties": "k=" + _word(rng) + "!"}),
            400,
            "InvalidHeaderValue",
        )
        yield Case(
            "bad permissions", put(name, **{"x-ms-permissions": "z" + _word(rng)}), 400, "InvalidHeaderValue"
        )
        yield Case(
            "bad expiry option",
            put(name, **{"x-ms-expiry-option": "Zz" + _word(rng)}),
            400,
            "InvalidHeaderValue",
        )
        lease = signed_request(
            settings,
            "PATCH",
            f"{base}/{FILE}",
            [("action", "flush"), ("position", "0")],
            headers={"x-ms-lease-action": "zz" + _word(rng)},
        )
        yield Case("bad lease action", lease, 400, "InvalidHeaderValue")
        yield Case("bad x-ms-date", put(name, **{"x-ms-date": _word(rng, 12)}), 400, "InvalidHeaderValue")
        stale = (now - timedelta(hours=rng.randrange(1, 48))).strftime("%a, %d %b %Y %H:%M:%S GMT")
        yield Case("stale x-ms-date", put(name, **{"x-ms-date": stale}), 403, "AuthenticationFailed")
        yield Case("oversized header", put(name, **{"x-ms-zz": "v" * 9000}), 400, "InvalidHeaderValue")
        forged = put(name)
        forged.headers["authorization"] = rng.choice(
            [
                f"SharedKey {account}:{base64.b64encode(rng.randbytes(32)).decode()}",
                f"Bearer {_word(rng, 30)}",
                f"SharedKey {_word(rng)}:{base64.b64encode(rng.randbytes(32)).decode()}",
            ]
        )
        yield Case("forged Authorization", forged, 403, "AuthenticationFailed")
        malformed = put(name)
        malformed.headers["authorization"] = f"SharedKey {account}"
        yield Case("Authorization without a signature", malformed, 400, "InvalidAuthenticationInfo")
        verb = RawRequest(rng.choice(["FOO", "PROPFIND", "TRACE", "MKCOL"]), f"{base}/{FILE}", {})
        yield Case("unsupported verb", verb, 405, "UnsupportedHttpVerb")

    # --- lengths -------------------------------------------------------------------------------------
    for _ in range(PER_KIND // 2):
        body = rng.randbytes(rng.randrange(1, 64))
        flush = signed_request(
            settings, "PATCH", f"{base}/{FILE}", [("action", "flush"), ("position", "0")], body=body
        )
        yield Case("flush with a body", flush, 400, "ContentLengthMustBeZero")
        bad_length = signed_request(
            settings, "PATCH", f"{base}/{FILE}", [("action", "append"), ("position", "0")]
        )
        bad_length.headers["content-length"] = rng.choice(["abc", "-5", "1 2", "0x10", "+3"])
        yield Case("Content-Length not a number", bad_length, 400, None)


def _send(settings: Settings, case: Case) -> Answer:
    connection = http.client.HTTPConnection(settings.host, settings.dfs_port, timeout=10)
    try:
        connection.putrequest(
            case.request.method, case.request.target, skip_host=True, skip_accept_encoding=True
        )
        connection.putheader("host", f"{settings.host}:{settings.dfs_port}")
        for name, value in case.request.headers.items():
            connection.putheader(name, value)
        if "content-length" not in case.request.headers and case.request.body:
            connection.putheader("content-length", str(len(case.request.body)))
        connection.endheaders(case.request.body or None)
        response = connection.getresponse()
        response.read()
        return Answer(response.status, response.getheader("x-ms-error-code"))
    finally:
        connection.close()


def _truncated_append(settings: Settings, fs: str, declared: int, sent: bytes) -> Answer:
    """An append whose body ends (the client half-closes) before ``Content-Length`` bytes arrived."""
    path = f"/{settings.storage_account}/{fs}/{FILE}"
    query = [("action", "append"), ("position", "0")]
    request = signed_request(
        settings, "PATCH", path, query, body=bytes(declared)
    )  # signs the declared length
    head = f"PATCH {request.target} HTTP/1.1\r\nhost: {settings.host}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in request.headers.items()) + "\r\n"
    with socket.create_connection((settings.host, settings.dfs_port), timeout=10) as raw:
        raw.sendall(head.encode("latin-1") + sent)
        raw.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := raw.recv(65536):
            reply += chunk
    match = re.match(rb"HTTP/1\.1 (\d{3})", reply)
    code = re.search(rb"(?im)^x-ms-error-code: *(\S+)", reply)
    return Answer(int(match.group(1)) if match else None, code.group(1).decode() if code else None)


def test_fuzzed_requests_get_azures_answers_are_logged_and_change_nothing(private_stack: PrivateStack):
    settings = private_stack.settings
    lake = private_stack.lake()
    fs_name = f"fuzz-{random.Random(SEED).randbytes(4).hex()}"
    fs = lake.create_file_system(fs_name)
    fs.get_file_client(FILE).create_file()
    log_path = private_stack.launcher.log_path("dfs")
    log_start = log_path.stat().st_size
    began = time.monotonic()

    cases = list(_cases(settings, fs_name, random.Random(SEED)))
    wrong = []
    refused: Counter[tuple[int, str]] = Counter()
    for case in cases:
        answer = _send(settings, case)
        if (answer.status, answer.code) != (case.status, case.code):
            wrong.append(
                (case.kind, case.request.method, case.request.target[:120], answer, case.status, case.code)
            )
        if answer.code:
            refused[(case.status, answer.code)] += 1
    rng = random.Random(SEED)
    truncated = [
        _truncated_append(settings, fs_name, 4096, rng.randbytes(rng.randrange(0, 4096))) for _ in range(40)
    ]
    took = time.monotonic() - began

    assert wrong == []
    assert {a for a in truncated if a.status is not None} <= {Answer(400, "InvalidInput")}
    assert 1000 <= len(cases) + len(truncated) <= 3000 and took < 30
    # Every refusal the endpoint answered left a log line with its status and code.
    time.sleep(0.2)
    logged = Counter(
        (int(status), code)
        for status, code in re.findall(r" -> (\d{3}) (\w+)$", log_path.read_text()[log_start:], re.MULTILINE)
    )
    assert {k: logged[k] for k in refused} == dict(refused)
    assert httpx.get(f"http://{settings.host}:{settings.dfs_port}/_health", timeout=5).status_code == 200
    # Nothing was created, and the truncated appends left nothing to flush.
    assert [(p.name, p.is_directory) for p in fs.get_paths()] == [("fuzz", True), (FILE, False)]
    target = fs.get_file_client(FILE)
    with pytest.raises(Exception) as flush:
        target.flush_data(1)
    assert getattr(flush.value, "error_code", None) == "InvalidFlushPosition"
    assert target.get_file_properties().size == 0
    lake.delete_file_system(fs_name)
