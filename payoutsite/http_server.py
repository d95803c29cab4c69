"""The errors gunicorn answers itself, in the API's one error format.

Some requests never reach Django: gunicorn refuses them while parsing (a control character in a header,
headers over `limit_request_field_size`, a request line over `limit_request_line`, an unsupported
transfer coding, an `Expect` other than `100-continue`, a forbidden proxy request, ...). It answers those
through `Worker.handle_error`, which classifies the exception into a status and then writes the response
with `gunicorn.util.write_error(sock, status_int, reason, mesg)` -- an HTML page. `install()`, called from
`gunicorn.conf.py`, replaces that one function with `write_error` below, which writes the same status line
with the JSON body of `api.errors.error_body`.

Why replace `util.write_error` rather than subclass a worker:
- `handle_error` looks the function up on the module at call time (`util.write_error(...)`), so one
  assignment covers every worker class (sync, gthread, gevent) and gunicorn keeps its own classification of
  its exceptions (which status for which parse error); a worker subclass would have to copy that ladder of
  `isinstance` checks and be repeated for each worker class.
- It is the narrowest seam: only the bytes written change, not when or why gunicorn answers.
- It fails loudly: `install()` checks the replaced function's signature, so a gunicorn upgrade that changes
  it stops the server at start-up instead of silently going back to HTML (the pin is gunicorn==27.0.1, and
  payoutsite/tests/test_http_edge.py sends each of these requests to a real gunicorn).

The message is one fixed sentence per code: the rejected header, URI or line is never echoed back.
"""

import inspect
import json
import logging
from http import HTTPStatus

from api.errors import API_ERROR, INVALID_REQUEST, error_body
from core.ids import new_public_id

logger = logging.getLogger("payoutsite.access")

# status -> (code, message) for what gunicorn answers itself.
ERRORS = {
    400: ("bad_request", "The request is not valid HTTP."),
    403: ("forbidden", "This request is not allowed."),
    414: ("uri_too_long", "The request line (method, URI and version) is too long."),
    417: ("expectation_failed", "Only 'Expect: 100-continue' is supported."),
    431: ("headers_too_large", "The request headers are too large or too many."),
    500: ("internal_error", "Something went wrong on our side."),
    501: ("not_implemented", "Unsupported transfer coding: send a Content-Length or 'Transfer-Encoding: chunked'."),
}
INVALID_HEADER = ("invalid_header", "A request header is malformed (its name, its value or its framing).")
# gunicorn's messages for a bad header (InvalidHeader, InvalidHeaderName, ObsoleteFolding): a 400 whose
# message starts with one of these is `invalid_header`; any other 400 stays `bad_request`.
_HEADER_MESSAGES = ("invalid http header", "obsolete line folding")

_EXPECTED_PARAMETERS = ["sock", "status_int", "reason", "mesg"]


def error_response(status_int: int, reason: str, mesg: str, request_id: str) -> bytes:
    """The full HTTP/1.1 response (status line, headers, JSON body) for an error gunicorn answers."""
    if status_int == 400 and mesg.lower().startswith(_HEADER_MESSAGES):
        code, message = INVALID_HEADER
    elif status_int in ERRORS:
        code, message = ERRORS[status_int]
    elif status_int >= 500:
        code, message = ERRORS[500]
    else:
        code, message = ERRORS[400]
    error_type = API_ERROR if status_int >= 500 else INVALID_REQUEST
    body = json.dumps(error_body(type=error_type, code=code, message=message), separators=(",", ":")).encode()
    if not (reason and reason.isascii() and reason.isprintable()):
        try:
            reason = HTTPStatus(status_int).phrase
        except ValueError:
            reason = "Error"
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Request-Id: {request_id}\r\n"
        "\r\n"
    )
    return head.encode("ascii") + body


def write_error(sock, status_int, reason, mesg):
    """Drop-in for gunicorn.util.write_error: same arguments, same non-blocking write, a JSON body."""
    from gunicorn import util

    request_id = new_public_id("req")
    util.write_nonblock(sock, error_response(status_int, reason, mesg, request_id))
    # gunicorn logs the cause (a warning with the client's address); this ties it to the Request-Id sent.
    logger.info("request_id=%s status=%s answered_by=gunicorn", request_id, status_int)


def install() -> None:
    """Make gunicorn write its own errors with `write_error` above. Idempotent (a HUP re-reads the config)."""
    from gunicorn import util

    if util.write_error is write_error:
        return
    parameters = list(inspect.signature(util.write_error).parameters)
    if parameters != _EXPECTED_PARAMETERS:
        raise RuntimeError(
            f"gunicorn.util.write_error{tuple(parameters)} is not the function payoutsite.http_server replaces "
            f"(expected {tuple(_EXPECTED_PARAMETERS)}): check it against this gunicorn version."
        )
    util.write_error = write_error
