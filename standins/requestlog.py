"""The stand-ins' request log, without the secrets that travel in query strings.

Werkzeug logs each request line as it came, and a stand-in's query strings
carry tokens: the end-session redirect's ``id_token_hint``, Graph's
``access_token`` and ``appsecret_proof``, presigned S3 URLs'
``X-Amz-Security-Token`` and ``X-Amz-Signature``. ``make demo`` prints that
log, so every stand-in server logs the parameter names only.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from werkzeug.serving import WSGIRequestHandler

#: What a parameter's value is replaced by in the log.
HIDDEN = "*"


def redact_query(path: str) -> str:
    """``path`` with each query value replaced by :data:`HIDDEN`; the names stay,
    so the log still says which endpoint was asked what."""
    parts = urlsplit(path)
    if not parts.query:
        return path
    names = [name for name, _ in parse_qsl(parts.query, keep_blank_values=True)]
    if not names:  # not a form-encoded query: nothing of it is kept
        return f"{parts.path}?{HIDDEN}"
    return parts.path + "?" + "&".join(f"{name}={HIDDEN}" for name in names)


class RedactedRequestLog:
    """Mixin for a werkzeug request handler: log the request line redacted.

    The WSGI environ was built from the real path before the response starts,
    so the path is swapped only while the line is written.
    """

    path: str

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        real = getattr(self, "path", None)
        if real is None:  # a malformed request line: werkzeug logs it raw
            super().log_request(code, size)  # type: ignore[misc]
            return
        self.path = redact_query(real)
        try:
            super().log_request(code, size)  # type: ignore[misc]
        finally:
            self.path = real


class RequestHandler(RedactedRequestLog, WSGIRequestHandler):
    """Werkzeug's handler with the redacted request log (the AWS stand-in's servers)."""
