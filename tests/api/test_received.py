"""Replies to ECO SMS: the simulator's incoming messages and the client reading `messages/recived`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from freezegun.api import FrozenDateTimeFactory
from hypothesis import given, settings, strategies as st
import pytest

from custom_components.serwersms.api import Received, SerwerSmsClient
from custom_components.serwersms.api.models import parse_received
from serwersms_simulator import SerwerSmsSimulator
from tests.api.test_client import gateway_call
from tests.api.test_parsing import json_values
from tests.conftest import TOKEN

PHONE = "+48500600700"
WARSAW = ZoneInfo("Europe/Warsaw")


def client(session: aiohttp.ClientSession, sim: SerwerSmsSimulator) -> SerwerSmsClient:
    return SerwerSmsClient(session, token=TOKEN, base_url=sim.url, backoff=0.01, timeout=2.0)


async def test_a_reply_to_an_eco_sms_is_listed_with_the_sms_it_answers(
    simulator: SerwerSmsSimulator, http_session: aiohttp.ClientSession, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to("2026-11-25 12:00:00+00:00")
    api = client(http_session, simulator)
    first = (await api.send_sms([PHONE], text="Alarm 1")).recipients[0].id
    second = (await api.send_sms([PHONE], text="Alarm 2")).recipients[0].id
    await api.send_sms([PHONE], text="Hasło", sender="Dom")  # FULL: no one can reply to it
    freezer.tick(30)
    reply_id = simulator.inject_reply("48500600700", "Przyjąłem, jadę")
    explicit = simulator.inject_reply(PHONE, "ok", message_id=first)
    page = await api.received()
    assert (page.page, page.pages) == (1, 1)
    assert page.items == (
        Received(
            id=reply_id,
            type="eco",
            phone="48500600700",
            received_at=datetime(2026, 11, 25, 12, 0, 30, tzinfo=UTC),
            message_id=second,
            text="Przyjąłem, jadę",
        ),
        Received(
            id=explicit,
            type="eco",
            phone=PHONE,
            received_at=datetime(2026, 11, 25, 12, 0, 30, tzinfo=UTC),
            message_id=first,
            text="ok",
        ),
    )
    assert page.items[0].received_at is not None
    assert page.items[0].received_at.tzinfo is not None
    request = simulator.requests_to("messages/recived")[0]
    assert {k: request.fields[k] for k in ("type", "read", "order", "page", "limit")} == {
        "type": "eco",
        "read": False,
        "order": "asc",
        "page": 1,
        "limit": 100,
    }
    assert "date_from" not in request.fields


async def test_we_never_mark_replies_read_but_other_software_may(simulator, http_session) -> None:
    api = client(http_session, simulator)
    await api.send_sms([PHONE], text="x")
    simulator.inject_reply(PHONE, "tak")
    assert len((await api.received()).items) == 1
    assert len((await api.received()).items) == 1  # still there: we asked with read: false
    other = await gateway_call(http_session, simulator, "messages/recived", type="eco", read=True)
    assert [item["text"] for item in other["items"]] == ["tak"]
    assert set(other["items"][0]) == {"id", "type", "phone", "recived", "message_id", "text", "to_number"}
    assert other["items"][0]["to_number"] == simulator.sms[0].from_number
    assert (await api.received()).items == ()
    assert [r.read for r in simulator.replies] == [True]


async def test_replies_come_in_pages_oldest_first(simulator, http_session, freezer) -> None:
    freezer.move_to("2026-11-25 12:00:00+00:00")
    for i in range(250):
        simulator.inject_reply(PHONE, f"reply {i}")
        freezer.tick(1)
    api = client(http_session, simulator)
    pages = [await api.received(page=n) for n in (1, 2, 3)]
    assert [(p.page, p.pages, len(p.items)) for p in pages] == [(1, 3, 100), (2, 3, 100), (3, 3, 50)]
    assert [r.text for p in pages for r in p.items] == [f"reply {i}" for i in range(250)]
    small = await api.received(limit=7, page=2)
    assert ([r.text for r in small.items][:1], small.pages) == (["reply 7"], 36)


async def test_date_from_is_sent_in_warsaw_time_and_filters(simulator, http_session, freezer) -> None:
    freezer.move_to("2026-11-25 12:00:00+00:00")
    simulator.inject_reply(PHONE, "old")
    freezer.tick(timedelta(minutes=10))
    simulator.inject_reply(PHONE, "new")
    api = client(http_session, simulator)
    since = datetime(2026, 11, 25, 12, 5, tzinfo=UTC)
    assert [r.text for r in (await api.received(date_from=since)).items] == ["new"]
    assert simulator.requests_to("messages/recived")[0].fields["date_from"] == "2026-11-25 13:05:00"
    with pytest.raises(ValueError, match="timezone"):
        await api.received(date_from=datetime(2026, 11, 25))  # noqa: DTZ001
    with pytest.raises(ValueError, match="page"):
        await api.received(page=0)
    assert len(simulator.requests_to("messages/recived")) == 1


async def test_other_types_of_incoming_messages_are_listed_apart(simulator, http_session) -> None:
    simulator.inject_reply(PHONE, "eco reply")
    assert (await client(http_session, simulator).received(type="nd")).items == ()
    bad = await gateway_call(http_session, simulator, "messages/recived", type="sms")
    assert bad["error"]["code"] == 2000


async def test_reply_control_endpoint_json_and_the_inbox_form(simulator, http_session) -> None:
    api = client(http_session, simulator)
    sms_id = (await api.send_sms([PHONE], text="Alarm")).recipients[0].id
    async with http_session.post(
        f"{simulator.url}_sim/reply", json={"phone": PHONE, "text": "Jadę!"}
    ) as response:
        assert response.status == 200
        answer = await response.json()
    assert answer["message_id"] == sms_id
    async with http_session.post(
        f"{simulator.url}_sim/reply",
        data={"phone": PHONE, "text": "z formularza", "message_id": sms_id},
        allow_redirects=False,
    ) as response:
        assert response.status == 303
        assert response.headers["Location"] == "/"
    async with http_session.post(f"{simulator.url}_sim/reply", json={"phone": PHONE}) as response:
        assert response.status == 400
    async with http_session.post(
        f"{simulator.url}_sim/reply", data=b"{", headers={"Content-Type": "application/json"}
    ) as response:
        assert response.status == 400
    items = (await api.received()).items
    assert [(r.id, r.text, r.message_id) for r in items] == [
        (answer["id"], "Jadę!", sms_id),
        (items[1].id, "z formularza", sms_id),
    ]
    async with http_session.get(simulator.url) as response:
        assert "z formularza" in await response.text()


async def test_a_reply_from_a_phone_never_sent_an_sms_answers_nothing(simulator, http_session) -> None:
    simulator.inject_reply("+48500600999", "kto to?")
    [item] = (await client(http_session, simulator).received()).items
    assert (item.phone, item.message_id) == ("+48500600999", None)


# --- odd replies ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"id": "r1", "phone": PHONE, "text": "ok"}, ("r1", "eco", PHONE, None, "ok")),
        ({"id": "r1"}, ("r1", "eco", "", None, "")),
        (
            {"id": 17, "phone": 48500600700, "text": 5, "message_id": 99},
            ("17", "eco", "48500600700", "99", "5"),
        ),
        ({"id": "r1", "text": None, "type": None, "message_id": ""}, ("r1", "eco", "", None, "")),
        ({"id": "r1", "text": ["a"], "phone": {"x": 1}, "type": True}, ("r1", "eco", "", None, "")),
        ({"id": "r1", "type": "nd", "text": "  spaces kept  "}, ("r1", "nd", "", None, "  spaces kept  ")),
        # UTF-8 read as Latin-1 / Windows-1252 on its way: mended; intact Polish is left alone.
        ({"id": "r1", "text": "ZaÅ¼Ã³Å\x82Ä\x87"}, ("r1", "eco", "", None, "Zażółć")),
        ({"id": "r1", "text": "Å¼Ã³Å\u201aw"}, ("r1", "eco", "", None, "żółw")),
        ({"id": "r1", "text": "ó i ż"}, ("r1", "eco", "", None, "ó i ż")),
        ({"id": "r1", "text": "café"}, ("r1", "eco", "", None, "café")),
    ],
)
def test_odd_received_items_are_read_without_raising(item: dict[str, Any], expected: tuple[Any, ...]) -> None:
    received = Received.from_json(item)
    assert received is not None
    assert (received.id, received.type, received.phone, received.message_id, received.text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-25 13:00:30", datetime(2026, 11, 25, 12, 0, 30, tzinfo=UTC)),
        ("2026-07-01 12:00", datetime(2026, 7, 1, 10, 0, tzinfo=UTC)),
        ("2026-07-01T12:00:00+00:00", datetime(2026, 7, 1, 12, 0, tzinfo=UTC)),
        ("yesterday", None),
        ("", None),
        (1764072030, None),
        (None, None),
    ],
)
def test_received_times_are_gateway_local_and_aware(value: Any, expected: datetime | None) -> None:
    received = Received.from_json({"id": "r1", "recived": value})
    assert received is not None
    assert received.received_at == expected
    if received.received_at is not None:
        assert received.received_at.tzinfo is not None


def test_items_without_an_id_and_odd_item_lists_are_skipped() -> None:
    reply = {
        "items": [{"text": "no id"}, {"id": "", "text": "empty"}, "junk", None, {"id": "r2", "text": "ok"}]
    }
    assert [r.id for r in parse_received(reply).items] == ["r2"]
    assert parse_received({"items": "nope"}).items == ()
    assert parse_received({"items": None}).items == ()
    assert parse_received({}).items == ()


@pytest.mark.parametrize(
    ("reply", "asked", "expected"),
    [
        ({"items": []}, 1, (1, 1)),  # no paging: the one page
        ({"items": []}, 3, (3, 3)),  # no paging on a later page: nothing after it
        ({"paging": {"page": 2, "count": 5}}, 2, (2, 5)),
        ({"paging": {"page": "2", "count": "5"}}, 2, (2, 5)),
        ({"paging": {"page": None, "count": None}}, 2, (2, 2)),
        ({"paging": {"page": 0, "count": -1}}, 1, (1, 1)),
        ({"paging": {"count": 0}}, 1, (1, 1)),  # an empty inbox: one (empty) page
        ({"paging": "two"}, 1, (1, 1)),
        ({"paging": [1, 2]}, 1, (1, 1)),
        ({"paging": {"page": True, "count": 4.5}}, 1, (1, 1)),
    ],
)
def test_paging_is_read_tolerantly(reply: dict[str, Any], asked: int, expected: tuple[int, int]) -> None:
    page = parse_received(reply, page=asked)
    assert (page.page, page.pages) == expected


@settings(max_examples=300, deadline=None)
@given(
    reply=st.dictionaries(st.sampled_from(["items", "paging", "x"]), json_values, max_size=3),
    items=st.lists(
        st.dictionaries(
            st.sampled_from(["id", "type", "phone", "recived", "message_id", "text"]), json_values, max_size=6
        ),
        max_size=4,
    ),
)
def test_any_recived_reply_parses_without_raising(reply: dict[str, Any], items: list[dict[str, Any]]) -> None:
    for shape in (reply, {**reply, "items": items}):
        page = parse_received(shape, page=2)
        assert page.pages >= page.page >= 1
        assert all(isinstance(r.text, str) and r.id for r in page.items)
