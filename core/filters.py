"""Query-string handling shared by every list endpoint: filters through django-filter, strict params."""

from datetime import UTC, datetime, timedelta

from django import forms
from django.db.models import QuerySet
from django_filters import CharFilter, FilterSet, IsoDateTimeFilter
from django_filters.fields import IsoDateTimeField

from core.errors import FIELD_CODES, InvalidParameters
from core.ids import public_id_pattern
from core.pagination import PAGE_PARAMS, PageRequest, parse_page_request

RANGE_LOOKUPS = ("gt", "gte", "lt", "lte")


class UtcDateTimeField(IsoDateTimeField):
    """Any RFC 3339 time, handed to the database in UTC (PostgreSQL refuses offsets beyond ±15:59).

    An instant beyond Python's datetime range after conversion (0001-01-01T00:00:00+05:00) is clamped:
    for a range filter it means the same thing, since no object is that old or that new.
    """

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is None or parsed.utcoffset() is None:
            return parsed
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            return (datetime.min if parsed.utcoffset() > timedelta(0) else datetime.max).replace(tzinfo=UTC)


class PublicIdFilter(CharFilter):
    """Filters on one of our ids (cust_…); anything not shaped like one is a 400, not an empty page."""

    field_class = forms.RegexField

    def __init__(self, prefix: str, **kwargs):
        super().__init__(regex=rf"^{public_id_pattern(prefix)}$", **kwargs)


class UtcDateTimeFilter(IsoDateTimeFilter):
    field_class = UtcDateTimeField


def created_at_filters() -> dict[str, UtcDateTimeFilter]:
    """createdAt[gte]=…, Stripe's bracket style, on the created_at column."""
    return {
        f"createdAt[{lookup}]": UtcDateTimeFilter(field_name="created_at", lookup_expr=lookup)
        for lookup in RANGE_LOOKUPS
    }


def parse_list_query(
    filterset_class: type[FilterSet], params, queryset, *, id_prefix: str
) -> tuple[QuerySet, PageRequest]:
    """The filtered queryset and the page asked for; every bad parameter is reported at once as a 400."""
    errors = []
    try:
        page = parse_page_request(params, id_prefix=id_prefix)
    except InvalidParameters as exc:
        errors += exc.errors
    try:
        filtered = apply_filters(filterset_class, params, queryset)
    except InvalidParameters as exc:
        errors += exc.errors
    if errors:
        raise InvalidParameters(errors[0]["message"], param=errors[0]["param"], errors=errors)
    return filtered, page


def apply_filters(filterset_class: type[FilterSet], params, queryset) -> QuerySet:
    """Filter `queryset` by the query string; unknown or invalid parameters are a 400, never ignored."""
    allowed = set(filterset_class.base_filters) | set(PAGE_PARAMS)
    errors = [
        {"param": name, "code": "parameter_unknown", "message": f"Unknown query parameter: {name}."}
        for name in params
        if name not in allowed
    ]
    errors += [
        {"param": name, "code": "parameter_invalid", "message": f"{name} must be given once, with a value."}
        for name in params
        if name in allowed and (len(params.getlist(name)) > 1 or (params.get(name) == "" and name not in PAGE_PARAMS))
    ]
    if not errors and not set(params) - set(PAGE_PARAMS):
        return queryset  # no filter asked for: skip building the filterset (it deep-copies every filter)
    filterset = filterset_class(data=params, queryset=queryset)
    if not filterset.is_valid():
        for name, messages in filterset.errors.get_json_data().items():
            errors += [{"param": name, "code": _filter_code(m["code"]), "message": m["message"]} for m in messages]
    if errors:
        raise InvalidParameters(errors[0]["message"], param=errors[0]["param"], errors=errors)
    return filterset.qs


def _filter_code(form_code: str) -> str:
    """A filter's form error as the API names it (NUL or surrogates: parameter_invalid_characters, as in bodies)."""
    return (
        FIELD_CODES.get(form_code, "parameter_invalid")
        if form_code.endswith("characters_not_allowed")
        else "parameter_invalid"
    )
