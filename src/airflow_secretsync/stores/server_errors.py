"""Value-free descriptions of failed requests, one function per client library.

Servers' error bodies may quote what was sent (OpenBao quotes a number it cannot parse, AWS
messages name parameters), so they are never passed on: a failure is described by what is
known to be safe, the HTTP status, the error class or AWS error code, and (in the caller's
message) the path. Stores, reference providers and the secrets backend all use these.
"""

from __future__ import annotations

#: hvac's exception classes and the HTTP status each stands for (``VaultError.from_status``).
_VAULT_STATUS = {
    "InvalidRequest": (400, "invalid request"),
    "Unauthorized": (401, "authentication failed"),
    "Forbidden": (403, "permission denied (the token lacks a policy for this path)"),
    "InvalidPath": (404, "not found"),
    "PreconditionFailed": (412, "precondition failed"),
    "RateLimitExceeded": (429, "rate limited by Vault"),
    "InternalServerError": (500, "Vault internal error"),
    "VaultNotInitialized": (501, "Vault is not initialized"),
    "BadGateway": (502, "bad gateway"),
    "VaultDown": (503, "Vault is sealed or unavailable"),
}
_AWS_DENIED = ("AccessDenied", "AccessDeniedException")
_AWS_BAD_CREDENTIALS = (
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "ExpiredTokenException",
    "ExpiredToken",
)


def vault_reason(exc: BaseException) -> str:
    """Why a Vault request failed: connection error type, or status and meaning; no body."""
    import requests

    if isinstance(exc, requests.RequestException):
        return f"cannot reach Vault ({type(exc).__name__})"
    name = type(exc).__name__
    if type(exc).__module__.startswith("hvac"):
        status, meaning = _VAULT_STATUS.get(name, (None, name))
        return f"HTTP {status}: {meaning}" if status else f"{meaning} (no detail shown)"
    return f"unexpected {name}"


def aws_reason(exc: BaseException) -> str:
    """Why an AWS call failed: the AWS error code and HTTP status (never the message)."""
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "Unknown")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in _AWS_DENIED:
            code = f"permission denied ({code})"
        elif code in _AWS_BAD_CREDENTIALS:
            code = f"the credentials were rejected ({code})"
        return f"{code}, HTTP {status}" if status else code
    if isinstance(exc, EndpointConnectionError):
        return f"cannot reach {exc.kwargs.get('endpoint_url', 'the endpoint')}"
    if isinstance(exc, BotoCoreError):  # messages are templates that may quote parameters
        return type(exc).__name__
    return f"unexpected {type(exc).__name__}"


#: Meanings of the google.rpc status names a Google REST error carries next to its message.
_GCP_MEANING = {
    "UNAUTHENTICATED": "the credentials were rejected",
    "PERMISSION_DENIED": "permission denied (or the project does not exist)",
    "NOT_FOUND": "not found",
    "ALREADY_EXISTS": "already exists",
    "ABORTED": "changed concurrently (etag mismatch)",
    "FAILED_PRECONDITION": "failed precondition",
    "INVALID_ARGUMENT": "invalid argument",
    "RESOURCE_EXHAUSTED": "rate limited or out of quota",
    "UNAVAILABLE": "the service is unavailable",
}


def gcp_status(exc: BaseException) -> str | None:
    """The google.rpc status name of a Google REST error (``ABORTED``...), if it has one."""
    response = getattr(exc, "response", None)
    try:
        status = response.json()["error"]["status"]  # type: ignore[union-attr]
    except Exception:  # no JSON body, or not a Google error document
        return None
    return status if isinstance(status, str) and status.isupper() else None


def gcp_reason(exc: BaseException) -> str:
    """Why a Google API call failed: the error class and HTTP status (never the message)."""
    from google.api_core.exceptions import GoogleAPICallError
    from google.auth.exceptions import GoogleAuthError

    name = type(exc).__name__
    if isinstance(exc, GoogleAPICallError):
        status = gcp_status(exc)
        meaning = _GCP_MEANING.get(status or "", status or name)
        return f"HTTP {exc.code}: {meaning}" if exc.code else meaning
    if isinstance(exc, GoogleAuthError):  # e.g. a token refresh refused
        return f"the credentials were rejected ({name})"
    if type(exc).__module__.partition(".")[0] in ("requests", "urllib3"):
        return f"cannot reach the Secret Manager endpoint ({name})"
    return f"unexpected {name}"


#: Kubernetes API statuses and what they mean for a Secrets request.
_KUBERNETES_STATUS = {
    400: "bad request",
    401: "the credentials were rejected",
    403: "permission denied (the RBAC Role lacks this verb on secrets)",
    404: "not found",
    409: "conflict",
    422: "the Secret was rejected as invalid",
    429: "rate limited by the API server",
}


def kubernetes_reason(exc: BaseException) -> str:
    """Why a Kubernetes API call failed: the HTTP status and its meaning (never the body)."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    if isinstance(exc, ApiException):
        meaning = _KUBERNETES_STATUS.get(exc.status, "API server error")
        return f"HTTP {exc.status}: {meaning}"
    if isinstance(exc, HTTPError | OSError):
        return f"cannot reach the API server ({type(exc).__name__})"
    return f"unexpected {type(exc).__name__}"


def is_denied(exc: BaseException) -> bool:
    """Whether ``exc`` is a server's "permission denied" (Vault 403, AWS AccessDenied)."""
    if type(exc).__module__.startswith("hvac"):
        return type(exc).__name__ == "Forbidden"
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return code in _AWS_DENIED


def server_reason(exc: BaseException) -> str | None:
    """The value-free reason for an hvac, requests or botocore exception; ``None`` otherwise."""
    module = type(exc).__module__.partition(".")[0]
    if module == "kubernetes":
        return kubernetes_reason(exc)
    if module in ("hvac", "requests", "urllib3"):
        return vault_reason(exc)
    if module == "botocore":
        return aws_reason(exc)
    if module == "google":
        return gcp_reason(exc)
    return None
