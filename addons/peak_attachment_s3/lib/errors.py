# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""What can go wrong with the S3 store, in words the addon acts on."""

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

_NOT_FOUND = {"404", "NoSuchKey", "NoSuchBucket", "NotFound"}
# If-None-Match lost to another writer (409 while that one is in flight)
_CONDITION = {"PreconditionFailed", "ConditionalRequestConflict"}
_DENIED = {
    "403",
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AllAccessDisabled",
}


class ContentCollision(Exception):
    """The key already holds different content: two files share a SHA-1
    (as the SHAttered pair does).  Nothing was written."""

    def __init__(self, key: str):
        super().__init__(f"{key} already holds different content")
        self.key = key


class S3Error(Exception):
    """An S3 operation failed after its retries."""

    def __init__(self, operation: str, reason: str, detail: str):
        super().__init__(f"S3 {operation} failed ({reason}): {detail}")
        self.operation = operation
        self.reason = reason
        self.detail = detail


def classify(exc: Exception) -> str:
    if isinstance(exc, ConnectTimeoutError | ReadTimeoutError):
        return "timeout"
    if isinstance(
        exc, EndpointConnectionError | ConnectionClosedError | BotoConnectionError
    ):
        return "connection"
    if isinstance(exc, TimeoutError):  # the body's socket, outside botocore
        return "timeout"
    if isinstance(exc, OSError):
        return "connection"
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        if code in _NOT_FOUND or status == "404":
            return "not_found"
        if code in _DENIED or status == "403":
            return "denied"
        if code in _CONDITION or status in ("409", "412"):
            return "precondition"
    return "other"
