"""A chunked request body is read, or refused: never taken for an empty body.

A request sent with `Transfer-Encoding: chunked` has no Content-Length. Django sizes the body from
CONTENT_LENGTH alone, so it would read nothing, and DRF would parse `{}`: a `POST /payouts` would be answered
as if no field had been sent. This middleware reads such a body itself, up to API_MAX_BODY_BYTES, and hands it
to Django as a body of known length (the server has already removed the chunk framing):

- the server says it ends the input at the end of the body (`wsgi.input_terminated`, as gunicorn does):
  the body is read; over API_MAX_BODY_BYTES it is a 413 `request_too_large`; a malformed chunk a 400
  `bad_request`;
- it does not: there is no safe way to find the body's end, so it is a 411 `length_required`;
- a transfer coding other than chunked (`gzip, chunked`: the server removes the chunks, not the gzip) is a
  501 `not_implemented`.
"""

from io import BytesIO

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.http import JsonResponse

from api.errors import API_ERROR, INVALID_REQUEST, error_body

try:  # what gunicorn raises for a malformed chunk (bad size line, missing CRLF, ...)
    from gunicorn.http.errors import ParseException as _ServerParseError
except ImportError:  # pragma: no cover - another server
    _ServerParseError = ValueError

READ_ERRORS = (OSError, ValueError, _ServerParseError)
_STEP = 64 * 1024


def _refuse(status: int, code: str, message: str) -> JsonResponse:
    error_type = API_ERROR if status >= 500 else INVALID_REQUEST  # as for every 5xx
    response = JsonResponse(error_body(type=error_type, code=code, message=message), status=status)
    response["Content-Length"] = len(response.content)  # answered before CommonMiddleware would set it
    return response


class ChunkedBodyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        meta = request.META
        coding = meta.get("HTTP_TRANSFER_ENCODING")
        if coding and not meta.get("CONTENT_LENGTH"):
            refusal = self._read_body(request, coding)
            if refusal is not None:
                return refusal
        return self.get_response(request)

    def _read_body(self, request, coding: str) -> JsonResponse | None:
        codings = [part.strip(" \t").lower() for part in coding.split(",")]
        if [part for part in codings if part != "identity"] != ["chunked"]:
            return _refuse(501, "not_implemented", "Unsupported transfer coding: only chunked is supported.")
        if not request.META.get("wsgi.input_terminated"):
            return _refuse(411, "length_required", "Send a Content-Length with the request body.")
        limit = settings.API_MAX_BODY_BYTES
        try:
            body = _read_at_most(request.META["wsgi.input"], limit + 1)
        except READ_ERRORS:
            return _refuse(400, "bad_request", "The chunked request body is malformed.")
        if len(body) > limit:
            return _refuse(413, "request_too_large", f"The request body is larger than {limit} bytes.")
        # From here on the body is an ordinary one of known length: Django's request.body and DRF's
        # parsers (which look at CONTENT_LENGTH before reading anything) both see it.
        request.META["CONTENT_LENGTH"] = str(len(body))
        request._stream = LimitedStream(BytesIO(body), len(body))
        return None


def _read_at_most(stream, size: int) -> bytes:
    """Read until the end of the input or `size` bytes, whichever comes first (read() may return less)."""
    parts, total = [], 0
    while total < size:
        part = stream.read(min(_STEP, size - total))
        if not part:
            break
        parts.append(part)
        total += len(part)
    return b"".join(parts)
