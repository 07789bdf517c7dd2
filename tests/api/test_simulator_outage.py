"""The simulator goes down: its port refuses connections for a while, then it comes back with everything kept.

Real loopback HTTP throughout; what a client notices is a refused connection, which the SerwerSMS client
reports as `SerwerSmsNotReachedError` (nothing reached the gateway, so a send may safely wait and retry).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import logging
import socket
from typing import Any

import aiohttp
from freezegun.api import FrozenDateTimeFactory
import pytest

from custom_components.serwersms.api import (
    SerwerSmsClient,
    SerwerSmsConnectionError,
    SerwerSmsNotFoundError,
    SerwerSmsNotReachedError,
    SerwerSmsOutcomeUnknownError,
)
from serwersms_simulator import Fault, SerwerSmsSimulator
from tests.api.test_client import on_frozen_clock
from tests.conftest import TOKEN, make_png

PHONE = "+48500600700"


def one_try_client(session: aiohttp.ClientSession, sim: SerwerSmsSimulator) -> SerwerSmsClient:
    """A client that makes a single attempt: each call shows exactly what one connection got."""
    return SerwerSmsClient(session, token=TOKEN, base_url=sim.url, max_attempts=1, timeout=30.0)


async def refused(call: Any) -> SerwerSmsNotReachedError:
    """Await `call`, which must fail with a refused connection (not a timeout, not a dropped reply)."""
    with pytest.raises(SerwerSmsNotReachedError) as caught:
        await call
    cause = caught.value.__cause__
    assert isinstance(cause, aiohttp.ClientConnectorError)
    assert isinstance(cause.os_error, ConnectionRefusedError)
    return caught.value


@pytest.fixture
async def with_control_port(loopback_sockets: None) -> AsyncIterator[SerwerSmsSimulator]:
    """A simulator that also listens on a control port, which stays up during outages."""
    sim = SerwerSmsSimulator(token=TOKEN)
    await sim.start(control_port=0)
    yield sim
    await sim.stop()


async def test_offline_gateway_refuses_and_comes_back_on_the_same_port_with_everything(
    simulator: SerwerSmsSimulator, http_session: aiohttp.ClientSession
) -> None:
    client = one_try_client(http_session, simulator)
    file_id = await client.upload_file(make_png(), filename="p.png", content_type="image/png")
    sent = await client.send_mms([PHONE], title="before", file_ids=[file_id])
    url = simulator.url
    requests_before = len(simulator.requests)

    # The session keeps the connection above open: the outage must close it, or the next send would
    # go out on it and die with an unknown outcome instead of being refused.
    await simulator.go_offline()

    assert not simulator.online
    await refused(client.send_mms([PHONE], title="during", file_ids=[file_id]))
    await refused(client.account_limits())
    assert len(simulator.requests) == requests_before  # nothing arrived

    await simulator.go_online()

    assert simulator.online
    assert simulator.url == url
    assert [stored.id for stored in await client.list_files()] == [file_id]
    reports = await client.reports([sent.recipients[0].id or ""])
    assert [report.phone for report in reports] == [PHONE]
    after = await client.send_mms([PHONE], title="after", file_ids=[file_id])
    assert after.queued == 1
    assert [message.title for message in simulator.messages] == ["before", "after"]


async def test_sim_offline_answers_then_refuses_for_exactly_the_given_seconds(
    simulator: SerwerSmsSimulator, http_session: aiohttp.ClientSession, freezer: FrozenDateTimeFactory
) -> None:
    client = one_try_client(http_session, simulator)
    file_id = await client.upload_file(make_png(), filename="p.png", content_type="image/png")
    url = simulator.url

    async with http_session.post(f"{url}_sim/offline", json={"seconds": 60}) as response:
        assert response.status == 200
        assert await response.json() == {"offline_seconds": 60}

    await refused(client.account_limits())
    _, seconds_offline = await on_frozen_clock(freezer, simulator.wait_online(), step=0.5, limit=120)
    assert 60 <= seconds_offline <= 60.5  # the clock moves in half seconds

    assert simulator.url == url
    assert [stored.id for stored in await client.list_files()] == [file_id]


async def test_sim_offline_without_a_body_is_sixty_seconds_and_3600_is_the_most(
    simulator: SerwerSmsSimulator, http_session: aiohttp.ClientSession, freezer: FrozenDateTimeFactory
) -> None:
    async with http_session.post(f"{simulator.url}_sim/offline") as response:
        assert await response.json() == {"offline_seconds": 60}
    _, seconds_offline = await on_frozen_clock(freezer, simulator.wait_online(), step=0.5, limit=120)
    assert 60 <= seconds_offline <= 60.5  # the clock moves in half seconds

    async with http_session.post(f"{simulator.url}_sim/offline", json={"seconds": 3600}) as response:
        assert await response.json() == {"offline_seconds": 3600}
    assert not simulator.online


@pytest.mark.parametrize(
    "body",
    [
        {"seconds": 0},
        {"seconds": -5},
        {"seconds": 3600.5},
        {"seconds": "60"},
        {"seconds": True},
        [60],
        "soon",
    ],
)
async def test_sim_offline_refuses_seconds_out_of_range_and_stays_up(
    simulator: SerwerSmsSimulator, http_session: aiohttp.ClientSession, body: object
) -> None:
    async with http_session.post(f"{simulator.url}_sim/offline", json=body) as response:
        assert response.status == 400
        assert "seconds" in (await response.json())["error"]

    assert simulator.online
    assert await one_try_client(http_session, simulator).account_limits()


async def test_sim_offline_refuses_a_body_that_is_not_json(
    simulator: SerwerSmsSimulator, http_session: aiohttp.ClientSession
) -> None:
    headers = {"Content-Type": "application/json"}
    async with http_session.post(f"{simulator.url}_sim/offline", data=b"{60", headers=headers) as response:
        assert response.status == 400
    assert simulator.online


async def test_sends_until_outage_answers_that_send_then_refuses(
    simulator: SerwerSmsSimulator, http_session: aiohttp.ClientSession
) -> None:
    client = one_try_client(http_session, simulator)
    file_id = await client.upload_file(make_png(), filename="p.png", content_type="image/png")
    simulator.sends_until_outage = 2

    with pytest.raises(SerwerSmsNotFoundError):  # refused by the gateway: not a send, not counted
        await client.send_mms([PHONE], title="no such file", file_ids=["0000000000"])
    first = await client.send_mms([PHONE], title="one", file_ids=[file_id])
    assert simulator.online
    second = await client.send_mms([PHONE], title="two", file_ids=[file_id])

    assert (first.queued, second.queued) == (1, 1)  # the second was answered, in full
    assert not simulator.online
    await refused(client.send_mms([PHONE], title="three", file_ids=[file_id]))
    assert [message.title for message in simulator.messages] == ["one", "two"]

    await simulator.go_online()
    assert (await client.send_mms([PHONE], title="three", file_ids=[file_id])).queued == 1
    assert simulator.online  # the countdown was used up: no second outage
    assert [message.title for message in simulator.messages] == ["one", "two", "three"]


async def test_outage_during_a_send_leaves_its_outcome_unknown_and_refuses_the_next(
    simulator: SerwerSmsSimulator, http_session: aiohttp.ClientSession
) -> None:
    client = one_try_client(http_session, simulator)
    file_id = await client.upload_file(make_png(), filename="p.png", content_type="image/png")
    # The cable is pulled while the gateway is working on the send: it goes out, the answer never comes.
    simulator.on_request = (
        lambda request: simulator.cut_off() if request.endpoint == "messages/send_mms" else None
    )

    with pytest.raises(SerwerSmsOutcomeUnknownError):
        await client.send_mms([PHONE], title="in flight", file_ids=[file_id])

    simulator.on_request = None
    await refused(client.account_limits())
    assert [message.title for message in simulator.messages] == ["in flight"]


async def test_going_offline_drops_a_held_reply_at_once(
    simulator: SerwerSmsSimulator, http_session: aiohttp.ClientSession
) -> None:
    client = one_try_client(http_session, simulator)
    arrived = asyncio.Event()
    simulator.on_request = lambda _request: arrived.set()
    simulator.fail_next("account/limits", Fault("timeout", hold=3600))
    call = asyncio.ensure_future(client.account_limits())
    await arrived.wait()

    await simulator.go_offline()

    with pytest.raises(SerwerSmsConnectionError) as caught:
        await call
    assert not isinstance(caught.value, SerwerSmsNotReachedError)  # it had reached the gateway
    assert simulator.in_flight["account/limits"] == 0


async def test_a_later_outage_replaces_the_pending_return(
    simulator: SerwerSmsSimulator, http_session: aiohttp.ClientSession, freezer: FrozenDateTimeFactory
) -> None:
    client = one_try_client(http_session, simulator)
    await simulator.go_offline(60)
    await simulator.go_offline()  # until further notice

    freezer.tick(61)
    for _ in range(50):
        await asyncio.sleep(0)
    assert not simulator.online
    await refused(client.account_limits())


async def test_a_taken_port_keeps_the_gateway_down_and_says_why(
    simulator: SerwerSmsSimulator,
    http_session: aiohttp.ClientSession,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    host, port = "127.0.0.1", int(simulator.url.rsplit(":", 1)[1].strip("/"))
    await simulator.go_offline(5)
    with socket.socket() as squatter:
        squatter.bind((host, port))
        squatter.listen()
        with caplog.at_level(logging.ERROR, logger="serwersms_simulator"):
            freezer.tick(6)
            for _ in range(50):
                await asyncio.sleep(0)
        assert not simulator.online
        assert "cannot come back" in caplog.text

    await simulator.go_online()
    assert await one_try_client(http_session, simulator).account_limits()


async def test_control_port_stays_up_through_an_outage_and_ends_it(
    with_control_port: SerwerSmsSimulator, http_session: aiohttp.ClientSession
) -> None:
    sim = with_control_port
    client = one_try_client(http_session, sim)
    await client.send_mms([PHONE], title="kept", text="x")
    assert sim.control_url not in {"", sim.url}

    async with http_session.post(f"{sim.control_url}_sim/offline", json={"seconds": 600}) as response:
        assert await response.json() == {"offline_seconds": 600}
    await refused(client.account_limits())
    async with http_session.get(f"{sim.control_url}_sim/state") as response:
        state = await response.json()
    assert state["online"] is False
    assert [message["title"] for message in state["messages"]] == ["kept"]

    async with http_session.post(f"{sim.control_url}_sim/online") as response:
        assert await response.json() == {"online": True}
    assert len(await client.account_limits()) > 0


async def test_control_port_has_no_api(
    with_control_port: SerwerSmsSimulator, http_session: aiohttp.ClientSession
) -> None:
    """The API answers only where outages happen: a client pointed at the control port would never see one."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with http_session.post(
        f"{with_control_port.control_url}account/limits.json", json={}, headers=headers
    ) as response:
        assert response.status == 404
    assert with_control_port.requests == []


async def test_a_request_on_a_connection_left_open_by_an_outage_is_dropped_undone(
    simulator: SerwerSmsSimulator,
) -> None:
    """A keep-alive connection that outlived the port closing (it was being accepted right then)."""
    host, port = simulator.url.removeprefix("http://").rstrip("/").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    request = (
        b"POST /account/limits.json HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer "
        + TOKEN.encode()
        + b"\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    )
    writer.write(request)
    head = (await reader.readuntil(b"\r\n\r\n")).decode()
    assert head.startswith("HTTP/1.1 200")
    length = next(
        int(line.split(":")[1]) for line in head.split("\r\n") if line.lower().startswith("content-length")
    )
    await reader.readexactly(length)
    (server_side,) = [c.transport for c in simulator._runner.server.connections if c.transport is not None]  # type: ignore[union-attr]
    simulator.cut_off(keep=server_side)

    writer.write(request)
    try:
        answered = await reader.read(1)  # a byte of an answer, or nothing once dropped
    except ConnectionResetError:
        answered = b""
    writer.close()
    assert answered == b""
    assert len(simulator.requests) == 1
