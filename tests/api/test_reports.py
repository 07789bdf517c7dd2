"""Delivery reports: the simulator's report lifecycle, and the client reading every documented shape."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from freezegun.api import FrozenDateTimeFactory
from homeassistant.util import dt as dt_util
import pytest

from custom_components.serwersms.api import SerwerSmsClient, chunked
from custom_components.serwersms.api.models import Report, parse_reports
from serwersms_simulator import SerwerSmsSimulator
from tests.conftest import TOKEN


def client(session: aiohttp.ClientSession, sim: SerwerSmsSimulator) -> SerwerSmsClient:
    return SerwerSmsClient(session, token=TOKEN, base_url=sim.url, backoff=0.01, timeout=2.0)


async def statuses(api: SerwerSmsClient, ids: list[str]) -> dict[str, tuple[str | None, str | None]]:
    return {r.phone or "": (r.status, r.reason) for r in await api.reports(ids)}


async def test_a_queued_mms_goes_in_progress_sent_then_delivered_or_undelivered(
    simulator: SerwerSmsSimulator, http_session: aiohttp.ClientSession, freezer: FrozenDateTimeFactory
) -> None:
    simulator.sent_delay, simulator.delivery_delay = 2.0, 5.0
    simulator.undeliverable["+48500600701"] = "message_expired"
    api = client(http_session, simulator)
    result = await api.send_mms(["+48500600700", "+48500600701"], title="t", text="x")
    ids = [r.id for r in result.recipients if r.id]
    assert await statuses(api, ids) == {
        "+48500600700": ("in_progress", None),
        "+48500600701": ("in_progress", None),
    }
    freezer.tick(2)
    assert {status for status, _ in (await statuses(api, ids)).values()} == {"sent"}
    freezer.tick(3)
    reports = await api.reports(ids)
    assert {(r.phone, r.status, r.reason, r.outcome) for r in reports} == {
        ("+48500600700", "delivered", None, "delivered"),
        ("+48500600701", "undelivered", "message_expired", "undelivered"),
    }


async def test_a_scheduled_mms_is_saved_until_its_time(
    simulator: SerwerSmsSimulator, http_session: aiohttp.ClientSession, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to("2026-11-25 12:00:00+00:00")
    api = client(http_session, simulator)
    at = dt_util.utcnow().astimezone(ZoneInfo("Europe/Warsaw")) + timedelta(hours=2)
    result = await api.send_mms(["+48500600700"], title="t", text="x", date=at)
    ids = [r.id for r in result.recipients if r.id]
    freezer.tick(timedelta(hours=2) - timedelta(seconds=1))
    assert await statuses(api, ids) == {"+48500600700": ("saved", None)}
    freezer.tick(1)
    assert await statuses(api, ids) == {"+48500600700": ("in_progress", None)}
    freezer.tick(simulator.delivery_delay)
    assert await statuses(api, ids) == {"+48500600700": ("delivered", None)}


async def test_reports_ask_at_most_500_ids_per_request(
    simulator: SerwerSmsSimulator, http_session: aiohttp.ClientSession
) -> None:
    api = client(http_session, simulator)
    await api.reports([f"{i:010x}" for i in range(500)])
    with pytest.raises(ValueError, match="at most 500"):
        await api.reports([f"{i:010x}" for i in range(501)])
    assert await api.reports([]) == []
    assert [len(r.fields["id"]) for r in simulator.requests_to("messages/reports")] == [500]


def test_chunks_keep_order_and_size() -> None:
    assert chunked(list(range(7)), 3) == [[0, 1, 2], [3, 4, 5], [6]]
    assert chunked([], 500) == []


async def test_the_simulator_refuses_more_than_500_ids(
    simulator: SerwerSmsSimulator, http_session: aiohttp.ClientSession
) -> None:
    body = {"id": [f"{i:010x}" for i in range(501)], "type": "mms"}
    async with http_session.post(
        f"{simulator.url}messages/reports.json", json=body, headers={"Authorization": f"Bearer {TOKEN}"}
    ) as response:
        reply = await response.json()
    assert reply["error"]["code"] == 2000


async def test_the_inbox_shows_each_recipients_delivery_state(
    simulator: SerwerSmsSimulator, http_session: aiohttp.ClientSession, freezer: FrozenDateTimeFactory
) -> None:
    simulator.undeliverable["+48500600701"] = "wrong_number"
    await client(http_session, simulator).send_mms(["+48500600700", "+48500600701"], title="t", text="x")
    async with http_session.get(simulator.url) as response:
        before = await response.text()
    freezer.tick(simulator.delivery_delay)
    async with http_session.get(simulator.url) as response:
        after = await response.text()
    assert before.count(">in progress<") == 2
    assert ">delivered<" in after
    assert ">undelivered (wrong_number)<" in after


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"id": "a1", "phone": "+48500600700", "status": "delivered"}, ("delivered", None, "delivered")),
        (
            {"id": "a1", "status": "undelivered", "reason": "wrong_number"},
            ("undelivered", "wrong_number", "undelivered"),
        ),
        (
            {"id": "a1", "status": "unsent", "reason": "limit_exhausted"},
            ("unsent", "limit_exhausted", "undelivered"),
        ),
        ({"id": "a1", "status": "DELIVERED"}, ("DELIVERED", None, "delivered")),
        ({"id": "a1", "status": "in_progress"}, ("in_progress", None, None)),
        ({"id": "a1", "status": "sent"}, ("sent", None, None)),
        ({"id": "a1", "status": "saved"}, ("saved", None, None)),
        ({"id": "a1", "status": "queued"}, ("queued", None, None)),
        ({"id": "a1", "status": "something_new"}, ("something_new", None, None)),
        ({"id": "a1"}, (None, None, None)),
        ({"id": "a1", "status": None, "reason": ""}, (None, None, None)),
        ({"id": "a1", "status": "undelivered", "reason": 7}, ("undelivered", "7", "undelivered")),
        ({"id": "a1", "status": True, "reason": {"x": 1}}, (None, None, None)),
    ],
)
def test_every_documented_report_shape_is_read(item: dict[str, Any], expected: tuple[Any, ...]) -> None:
    report = Report.from_json(item)
    assert report is not None
    assert (report.status, report.reason, report.outcome) == expected


def test_items_without_a_message_id_are_skipped() -> None:
    reply = {
        "items": [{"status": "delivered"}, {"id": "", "status": "delivered"}, {"id": 12, "status": "sent"}]
    }
    assert [(r.id, r.status) for r in parse_reports(reply)] == [("12", "sent")]
    assert parse_reports({}) == []
