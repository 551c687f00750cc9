"""Storage errors as the real service reports them: an HTTP status, an error code and a message.

DFS requests get a JSON body ``{"error": {"code", "message"}}``; Blob requests get the Blob API's XML body.
Both carry the code in the ``x-ms-error-code`` header, which is what the SDKs and the ABFS driver read first.
A Blob request is told its error in the Blob API's names (``BlobNotFound``, not ``PathNotFound``). An error
answer to HEAD has no body, and then no ``Content-Type`` either: Azure sends none, and some clients (the
Azure C++ SDK under pyarrow) parse any body that a JSON or XML content type announces, even an empty one.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from xml.sax.saxutils import escape

# code -> (status, message); the messages are the service's own wording.
CATALOG: dict[str, tuple[int, str]] = {
    "AuthenticationFailed": (
        403,
        "Server failed to authenticate the request. Make sure the value of Authorization header is formed "
        "correctly including the signature.",
    ),
    "AuthorizationPermissionMismatch": (
        403,
        "This request is not authorized to perform this operation using this permission.",
    ),
    "AuthorizationProtocolMismatch": (
        403,
        "This request is not authorized to perform this operation using this protocol.",
    ),
    "AuthorizationSourceIPMismatch": (
        403,
        "This request is not authorized to perform this operation using this source IP.",
    ),
    "AuthorizationResourceTypeMismatch": (
        403,
        "This request is not authorized to perform this operation using this resource type.",
    ),
    "AuthorizationServiceMismatch": (
        403,
        "This request is not authorized to perform this operation using this service.",
    ),
    "BlobAlreadyExists": (409, "The specified blob already exists."),
    "BlobNotFound": (404, "The specified blob does not exist."),
    "ConditionNotMet": (412, "The condition specified using HTTP conditional header(s) is not met."),
    "ContainerAlreadyExists": (409, "The specified container already exists."),
    "ContainerNotFound": (404, "The specified container does not exist."),
    "ContentLengthMustBeZero": (400, "The Content-Length request header must be zero."),
    "DirectoryNotEmpty": (
        409,
        "The recursive query parameter value must be true to delete a non-empty directory.",
    ),
    "DirectoryIsNotEmpty": (409, "This operation is not permitted on a non-empty directory."),
    "FilesystemAlreadyExists": (409, "The specified filesystem already exists."),
    "FilesystemNotFound": (404, "The specified filesystem does not exist."),
    "InternalError": (500, "The server encountered an internal error. Please retry the request."),
    "InvalidAuthenticationInfo": (
        400,
        "Authentication information is not given in the correct format. "
        "Check the value of Authorization header.",
    ),
    "InvalidDestinationPath": (
        409,
        "The specified path, or an element of the path, exists and its resource type is invalid for this "
        "operation.",
    ),
    "InvalidFlushOperation": (
        409,
        "The resource was created or modified by the Azure Blob Service API and cannot be written to by the "
        "Azure Data Lake Storage Service API.",
    ),
    "InvalidFlushPosition": (
        400,
        "The uploaded data is not contiguous or the position query parameter value is not equal to the "
        "length of the file after appending the uploaded data.",
    ),
    "InvalidHeaderValue": (400, "The value for one of the HTTP headers is not in the correct format."),
    "InvalidInput": (400, "One of the request inputs is not valid."),
    "InvalidPropertyName": (400, "The property name contains invalid characters."),
    "InvalidQueryParameterValue": (
        400,
        "Value for one of the query parameters specified in the request URI is invalid.",
    ),
    "InvalidSourceOrDestinationResourceType": (
        409,
        "The source and destination resource type must be identical.",
    ),
    "InvalidRenameSourcePath": (
        409,
        "The source directory cannot be the same as the destination directory, nor can the destination be a "
        "subdirectory of the source directory.",
    ),
    "InvalidResourceName": (400, "The specified resource name contains invalid characters."),
    "InvalidSourceUri": (400, "The source URI is invalid."),
    "InvalidUri": (400, "The request URI is invalid."),
    "InvalidXmlDocument": (400, "XML specified is not syntactically valid."),
    "InvalidXmlNodeValue": (400, "The value for one of the XML nodes is not in the correct format."),
    "MissingRequiredHeader": (400, "An HTTP header that's mandatory for this request is not specified."),
    "NoAuthenticationInformation": (
        401,
        "Server failed to authenticate the request. "
        "Please refer to the information in the www-authenticate header.",
    ),
    "PathAlreadyExists": (409, "The specified path already exists."),
    "PathConflict": (
        409,
        "The specified path, or an element of the path, exists and its resource type is invalid for this "
        "operation.",
    ),
    "PathNotFound": (404, "The specified path does not exist."),
    "RenameDestinationParentPathNotFound": (
        404,
        "The parent directory of the destination path does not exist.",
    ),
    "ResourceTypeMismatch": (
        409,
        "The resource type specified in the request does not match the type of the resource.",
    ),
    "ServerBusy": (503, "The server is currently unable to receive requests. Please retry your request."),
    "SourceConditionNotMet": (
        412,
        "The source condition specified using HTTP conditional header(s) is not met.",
    ),
    "SourcePathNotFound": (404, "The source path for a rename operation does not exist."),
    "UnsupportedHttpVerb": (405, "The resource doesn't support the specified HTTP verb."),
}


# DFS error codes and the names the Blob API gives the same condition.
BLOB_NAMES = {
    "PathNotFound": "BlobNotFound",
    "FilesystemNotFound": "ContainerNotFound",
    "PathAlreadyExists": "BlobAlreadyExists",
    "FilesystemAlreadyExists": "ContainerAlreadyExists",
}


class StorageError(Exception):
    """An error answer; raise it anywhere in a handler and the app turns it into the response."""

    def __init__(
        self,
        code: str,
        message: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        default_status, default_message = CATALOG.get(
            code, (500, "The server encountered an internal error.")
        )
        self.code = code
        self.status = status or default_status
        self.message = message or default_message
        # Extra response headers the service sends with this error (``x-ms-existing-resource-type``).
        self.headers = headers or {}
        super().__init__(f"{self.status} {code}: {self.message}")


def error_response(error: StorageError, api: str, method: str) -> tuple[str, dict[str, str], bytes]:
    """(error code, headers, body) of the answer to a ``"dfs"`` or ``"blob"`` request that failed."""
    code = BLOB_NAMES.get(error.code, error.code) if api == "blob" else error.code
    if code != error.code:
        error = StorageError(code, status=error.status, headers=error.headers)
    if method == "HEAD":
        return code, {**error.headers, "x-ms-error-code": code, "content-length": "0"}, b""
    body, content_type = error_body(error, api)
    return code, {**error.headers, "x-ms-error-code": code, "content-type": content_type}, body


def error_body(error: StorageError, api: str) -> tuple[bytes, str]:
    """The body and content type of ``error`` for a ``"dfs"`` or ``"blob"`` request."""
    request_id = str(uuid.uuid4())
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    message = f"{error.message}\nRequestId:{request_id}\nTime:{stamp}"
    if api == "blob":
        xml = (
            '<?xml version="1.0" encoding="utf-8"?>'
            f"<Error><Code>{escape(error.code)}</Code><Message>{escape(message)}</Message></Error>"
        )
        return xml.encode(), "application/xml"
    return json.dumps(
        {"error": {"code": error.code, "message": message}}
    ).encode(), "application/json;charset=utf-8"
