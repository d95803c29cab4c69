"""JSON rendering with orjson: the same bytes json.dumps would give a client, at a fraction of the cost."""

import orjson
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer


class FastJSONRenderer(BaseRenderer):
    media_type = "application/json"
    format = "json"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if data is None:
            return b""
        return orjson.dumps(data, default=str)


class JsonContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, with its answer for the Accept headers API clients send worked out once.

    With no Accept header, `*/*` or `application/json`, and no `?format=`, DRF's DefaultContentNegotiation
    picks the first renderer and `application/json` whenever that renderer is JSON (FastJSONRenderer, the only
    one the API has): this returns that without parsing the header. Anything else (another type, several,
    parameters, an empty header, `?format=`) goes through DRF's own code, so a 406 stays a 406.
    """

    FAST_ACCEPT = frozenset({None, "*/*", "application/json"})

    def select_renderer(self, request, renderers, format_suffix=None):
        if (
            not format_suffix
            and renderers
            and renderers[0].media_type == "application/json"
            and request.META.get("HTTP_ACCEPT") in self.FAST_ACCEPT
            and not request.query_params.get(self.settings.URL_FORMAT_OVERRIDE)
        ):
            return renderers[0], "application/json"
        return super().select_renderer(request, renderers, format_suffix)
