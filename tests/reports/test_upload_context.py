"""An upload's context as a platform sends it: read exactly, or refused with the field named."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.review.context import ContextError, IpCapture, UploadContext

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
_PLUS_ONE = timezone(timedelta(hours=1))
#: Documents shaped like a context, with any values in its fields.
_CONTEXT_LIKE = st.fixed_dictionaries(
    {},
    optional={
        "uploader": st.fixed_dictionaries(
            {}, optional=dict.fromkeys(("id", "screen_name", "email"), _JSON)
        )
        | _JSON,
        "ip_events": st.lists(
            st.fixed_dictionaries(
                {}, optional=dict.fromkeys(("address", "event", "at", "port"), _JSON)
            )
            | _JSON,
            max_size=3,
        )
        | _JSON,
        "uploaded_at": _JSON,
        "url": _JSON,
        "public": _JSON,
    },
)


@given(document=_JSON | _CONTEXT_LIKE)
def test_any_document_is_read_or_refused_with_a_context_error(document: Any) -> None:
    try:
        context = UploadContext.from_mapping(document)
    except ContextError as error:
        refusal = str(error)
    else:
        assert UploadContext.from_json(context.to_json()) == context
        return
    assert refusal


def test_a_full_context_is_read_exactly() -> None:
    context = UploadContext.from_json(
        json.dumps(
            {
                "uploader": {"id": 42, "screen_name": "name<&>", "email": "u@example.org"},
                "ip_events": [
                    {"address": "2001:DB8::1", "event": "Login", "at": "2026-11-30T07:55:00+01:00"},
                    {"address": "192.0.2.10", "port": 443},
                ],
                "uploaded_at": "2026-11-30T08:00:01Z",
                "url": "https://example.org/p/1",
                "public": False,
            }
        )
    )

    assert context.uploader_id == "42"
    assert context.screen_name == "name<&>"
    assert context.ip_events == (
        IpCapture("2001:db8::1", "Login", datetime(2026, 11, 30, 7, 55, tzinfo=_PLUS_ONE)),
        IpCapture("192.0.2.10", "Unknown", None, 443),
    )
    assert context.uploaded_at == datetime(2026, 11, 30, 8, 0, 1, tzinfo=UTC)
    assert context.public is False


@pytest.mark.parametrize(
    ("document", "named"),
    [
        ("[1]", "context must be a JSON object"),
        ("{", "context is not JSON"),
        ('{"uploader": {"id": "a", "password": "x"}}', "uploader has unknown field(s) password"),
        ('{"uploader": {"email": "not-an-address"}}', "uploader.email"),
        ('{"ip_events": [{"address": "999.1.1.1"}]}', "ip_events[0].address"),
        ('{"ip_events": [{"address": "192.0.2.1", "event": "Browse"}]}', "ip_events[0].event"),
        ('{"ip_events": [{"address": "192.0.2.1", "port": 70000}]}', "ip_events[0].port"),
        ('{"ip_events": {"address": "192.0.2.1"}}', "ip_events must be a list"),
        ('{"uploaded_at": "2026-11-30T08:00:00"}', "uploaded_at '2026-11-30T08:00:00' has no UTC"),
        ('{"url": "ftp://example.org/x"}', "url 'ftp://example.org/x' is not an http(s) URL"),
        ('{"public": "yes"}', "public must be true or false"),
        ('{"uploader": []}', "uploader must be a JSON object"),
    ],
)
def test_a_bad_field_is_named(document: str, named: str) -> None:
    with pytest.raises(ContextError) as refused:
        UploadContext.from_json(document)
    assert named in str(refused.value)
    assert refused.value.code == "upload-context"
