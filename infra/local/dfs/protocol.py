"""uvicorn's httptools protocol, answering an unknown HTTP verb the way Azure does.

httptools (llhttp) knows a fixed list of methods and rejects any other token while parsing, before the app
sees the request; uvicorn then answers ``400 Invalid HTTP request``. Azure Storage answers such a request
``405 UnsupportedHttpVerb``, as the app does for a verb it parses but does not serve. This protocol gives the
parser's refusal that answer (logged like the app's refusals), then closes the connection as uvicorn does
after any parse error.
"""

from __future__ import annotations

import logging
import sys

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from infra.local.dfs.app import common_headers
from infra.local.dfs.blobstore import API_VERSION
from infra.local.dfs.errors import StorageError, error_response

log = logging.getLogger("infra.local.dfs")


def unsupported_verb_answer() -> bytes:
    """The whole HTTP answer Azure gives a request with an unknown verb (DFS error body)."""
    _, headers, body = error_response(StorageError("UnsupportedHttpVerb"), "dfs", "")
    headers = common_headers(API_VERSION) | headers
    headers |= {"content-length": str(len(body)), "connection": "close"}
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"HTTP/1.1 405 Method Not Allowed\r\n{head}\r\n".encode("latin-1") + body


class AzureHttpToolsProtocol(HttpToolsProtocol):
    """httptools parsing, with Azure's answer to an unknown verb instead of a bare 400."""

    def send_400_response(self, msg: str) -> None:
        # uvicorn calls this from the `except httptools.HttpParserError` of data_received.
        if isinstance(sys.exc_info()[1], httptools.HttpParserInvalidMethodError):
            log.info("(unknown verb) -> 405 UnsupportedHttpVerb")
            self.transport.write(unsupported_verb_answer())
            self.transport.close()
            return
        super().send_400_response(msg)
