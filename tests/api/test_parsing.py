"""Reply parsing: whatever JSON the gateway sends, only the client's own typed errors come out."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.serwersms.api import SerwerSmsError, SerwerSmsResponseError
from custom_components.serwersms.api.client import _interpret
from custom_components.serwersms.api.models import (
    Limit,
    parse_file_id,
    parse_files,
    parse_limits,
    parse_reports,
    parse_send,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
replies = st.dictionaries(
    st.sampled_from(["items", "id", "queued", "error", "success", "value", "x"]), json_values, max_size=4
)


@settings(max_examples=300, deadline=None)
@given(reply=replies, phones=st.lists(st.text(max_size=6), min_size=1, max_size=3))
def test_parsers_raise_only_response_errors(reply: dict[str, Any], phones: list[str]) -> None:
    for parse in (parse_limits, parse_files, parse_reports, parse_file_id, lambda r: parse_send(r, phones)):
        with contextlib.suppress(SerwerSmsResponseError):
            parse(reply)


@settings(max_examples=300, deadline=None)
@given(
    status=st.sampled_from([200, 201, 204, 400, 401, 403, 404, 429, 500, 502, 503]),
    body=json_values | st.binary(max_size=40),
    retry_after=st.none() | st.text(max_size=5),
)
def test_any_reply_becomes_a_dict_or_a_typed_error(status: int, body: Any, retry_after: str | None) -> None:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    try:
        result = _interpret("messages/send_mms", status, retry_after, raw)
    except SerwerSmsError:
        return
    assert isinstance(result, dict)


@pytest.mark.parametrize(
    ("item", "value", "unlimited"),
    [
        ({"type": "mms", "value": "120", "chars_limit": "40/1"}, 120, False),
        ({"type": "mms", "value": 7}, 7, False),
        ({"type": "mms", "value": "no_limit"}, None, True),
        ({"type": "mms", "value": "not_available"}, None, False),
    ],
)
def test_limit_values(item: dict[str, Any], value: int | None, unlimited: bool) -> None:
    limit = Limit.from_json(item)
    assert (limit.value, limit.unlimited) == (value, unlimited)


@pytest.mark.parametrize(
    "reply",
    [
        {"items": "nope"},
        {"items": [{"type": True, "value": "1"}]},
        {"items": [{"type": "mms", "value": None}]},
        {"items": [{"type": "mms", "value": {"a": 1}}]},
    ],
)
def test_malformed_limits_are_response_errors(reply: dict[str, Any]) -> None:
    with pytest.raises(SerwerSmsResponseError):
        parse_limits(reply)


def test_file_sizes_may_come_as_text() -> None:
    files = parse_files({"items": [{"id": "abcdef0123", "name": "a.jpg", "size": "1234", "type": "mms"}]})
    assert files[0].size == 1234
    with pytest.raises(SerwerSmsResponseError):
        parse_files({"items": [{"id": "abcdef0123", "size": True}]})
    with pytest.raises(SerwerSmsResponseError):
        parse_files({"items": [{"id": "abcdef0123", "size": "big"}]})
    assert parse_files({"items": None}) == []


def test_send_reply_without_details_counts_every_phone_queued() -> None:
    result = parse_send({"success": True, "queued": 2, "unsent": 0}, ["+48500600700", "+48500600701"])
    assert [r.status for r in result.recipients] == ["queued", "queued"]
    # a partial count does not say who: both may have been sent
    partial = parse_send({"success": True, "queued": 1, "unsent": 1}, ["+48500600700", "+48500600701"])
    assert [r.status for r in partial.recipients] == ["unknown", "unknown"]


def test_error_shapes() -> None:
    with pytest.raises(SerwerSmsError) as err:
        _interpret("x", 200, None, b'{"error": {"code": "3004", "message": "Brak"}}')
    assert err.value.code == 3004
    with pytest.raises(SerwerSmsError, match="InvalidUser"):
        _interpret("x", 200, None, b'{"error": {"type": "InvalidUser"}}')
    with pytest.raises(SerwerSmsError, match="oops"):
        _interpret("x", 200, None, b'{"error": "oops"}')
    with pytest.raises(SerwerSmsError, match="failure"):
        _interpret("x", 200, None, b'{"success": false}')
    with pytest.raises(SerwerSmsError, match="HTTP 404"):
        _interpret("x", 404, None, b"not found")
    with pytest.raises(SerwerSmsError) as limited:
        _interpret("x", 429, "soon", b"")
    assert limited.value.retry_after is None  # type: ignore[attr-defined]


PHONES = ["+48500600700", "+48500600701", "+4845616"]


def _item(phone: str, status: Any = "queued", **extra: Any) -> dict[str, Any]:
    return {"id": f"id{phone[-3:]}", "phone": phone, "status": status, **extra}


@pytest.mark.parametrize(
    ("reply", "statuses"),
    [
        ({"success": True}, ["unknown"] * 3),
        ({"success": True, "queued": True}, ["unknown"] * 3),
        ({"success": True, "queued": 3, "unsent": 0}, ["queued"] * 3),
        ({"success": True, "items": [_item(PHONES[0])]}, ["queued", "unknown", "unknown"]),
        ({"success": True, "items": [_item(p) for p in reversed(PHONES)]}, ["queued"] * 3),
        (
            {"success": True, "items": [_item(PHONES[0], None), _item(PHONES[1]), _item("45616")]},
            ["unknown", "queued", "queued"],
        ),
        ({"success": True, "items": [_item(p, "sent") for p in PHONES]}, ["unknown"] * 3),
        ({"success": True, "items": ["x", 1, None]}, ["unknown"] * 3),
        (
            {"success": True, "items": [_item("+48999999999"), _item(PHONES[1])]},
            ["unknown", "queued", "unknown"],
        ),
        ({"success": True, "items": [_item("0"), _item("0"), _item("0")]}, ["unknown"] * 3),
    ],
    ids=[
        "bare success",
        "queued true",
        "counts only",
        "items shorter",
        "items reversed",
        "status null, gateway spelling without +48",
        "a status it does not know",
        "items not objects",
        "a number nobody asked for",
        "a stray digit matches nothing",
    ],
)
def test_an_accepted_send_reply_never_loses_a_number(reply: dict[str, Any], statuses: list[str]) -> None:
    result = parse_send(reply, PHONES)
    assert [r.phone for r in result.recipients] == PHONES
    assert [r.status for r in result.recipients] == statuses
    for recipient in result.recipients:
        if recipient.status == "queued" and reply.get("items"):
            assert recipient.id == f"id{recipient.phone[-3:]}"


def test_an_unsent_item_keeps_its_code_and_text_whatever_their_type() -> None:
    reply = {
        "items": [
            _item(PHONES[0], "unsent", error_code="3103", error_message="Błędny numer odbiorcy"),
            _item(PHONES[1], "unsent", error_code=[1], error_message={"pl": "?"}),
            _item(PHONES[2], "unsent"),
        ]
    }
    result = parse_send(reply, PHONES)
    assert [(r.status, r.error_code, r.error_message) for r in result.recipients] == [
        ("unsent", 3103, "Błędny numer odbiorcy"),
        ("unsent", None, None),
        ("unsent", None, None),
    ]
