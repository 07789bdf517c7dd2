"""The client while the gateway cannot be reached: quick answers, and one word when it goes and comes back."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
import contextlib
import socket
from typing import Any

from freezegun.api import FrozenDateTimeFactory
import pytest

from custom_components.serwersms.api import (
    SerwerSmsClient,
    SerwerSmsNotReachedError,
)
from serwersms_simulator import Fault, SerwerSmsSimulator
from tests.api.test_client import on_frozen_clock, token_client
from tests.conftest import TOKEN, make_jpeg

PHONE = "+48500600700"


def told_refused(client: SerwerSmsClient) -> asyncio.Event:
    """Set once the client finds the gateway unreachable (it then pauses before its next try)."""
    refused = asyncio.Event()
    client.add_reachability_listener(lambda reachable, _detail: None if reachable else refused.set())
    return refused


def requests_refused(monkeypatch: pytest.MonkeyPatch, client: SerwerSmsClient, count: int) -> asyncio.Event:
    """Set once `count` requests of `client` could not reach the gateway (listeners hear of the first only).

    The call a request belongs to takes the refusal in, and begins its pause, before this is heard of.
    """
    refused = asyncio.Event()
    seen = 0
    post_once = client._post_once

    async def counted(*args: Any) -> Any:
        nonlocal seen
        try:
            return await post_once(*args)
        except SerwerSmsNotReachedError:
            seen += 1
            if seen == count:
                refused.set()
            raise

    monkeypatch.setattr(client, "_post_once", counted)
    return refused


async def test_fifty_sends_in_an_outage_are_all_answered_within_one_retry_ladder(
    simulator: SerwerSmsSimulator, http_session, freezer: FrozenDateTimeFactory
) -> None:
    # Five send slots and half a second, then one second, between the three tries of each send.
    client = token_client(http_session, simulator, backoff=0.5, max_parallel_batches=5)
    await simulator.go_offline()

    async def fifty() -> list[BaseException | object]:
        return await asyncio.gather(
            *(client.send_mms([PHONE], title="alarm", text=f"{i}") for i in range(50)), return_exceptions=True
        )

    results, waited = await on_frozen_clock(freezer, fifty())
    assert all(isinstance(result, SerwerSmsNotReachedError) for result in results)
    # One ladder's pauses (1.5 s), not ten ladders one after another (15 s): a pause holds no slot.
    assert waited <= 2.0


@pytest.fixture
def swallowing_port(loopback_sockets: None) -> Iterator[int]:
    """A port whose connections never complete, as when the route to the gateway is gone.

    It listens but never accepts, and its queue is filled up: the kernel drops further connection
    requests, so each connect waits for the client's connect timeout (10 s).
    """
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port: int = server.getsockname()[1]
        fillers = [socket.socket() for _ in range(8)]
        for filler in fillers:
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
        try:
            yield port
        finally:
            for filler in fillers:
                filler.close()


async def test_fifty_sends_through_a_dead_route_wait_out_one_ladder_of_connect_timeouts(
    swallowing_port: int, http_session, freezer: FrozenDateTimeFactory
) -> None:
    client = SerwerSmsClient(
        http_session, token=TOKEN, base_url=f"http://127.0.0.1:{swallowing_port}/", backoff=0.5
    )

    async def fifty() -> list[BaseException | object]:
        return await asyncio.gather(
            *(client.send_mms([PHONE], title="alarm", text=f"{i}") for i in range(50)), return_exceptions=True
        )

    results, waited = await on_frozen_clock(freezer, fifty(), step=0.5, limit=60.0)
    assert all(isinstance(result, SerwerSmsNotReachedError) for result in results)
    # The first five sends' three 10-s connect timeouts and their pauses; the other 45 fail as soon as
    # a slot frees (each trying on its own: 330 s).
    assert waited <= 40.0


async def test_a_send_is_not_held_up_by_another_batch_waiting_out_a_rate_limit(
    simulator: SerwerSmsSimulator, http_session, freezer: FrozenDateTimeFactory
) -> None:
    simulator.fail_next("messages/send_mms", Fault("status", status=429, retry_after=5))
    client = token_client(http_session, simulator, max_parallel_batches=1)
    phones = [f"+48500{i:06d}" for i in range(150)]
    result, _ = await on_frozen_clock(freezer, client.send_mms(phones, title="t", text="x"), step=0.5)
    assert result.queued == 150
    sizes = [len(request.fields["phone"]) for request in simulator.requests_to("messages/send_mms")]
    # The second batch went out while the first waited its 5 s, not after.
    assert sizes == [100, 50, 100]
    assert len(simulator.processed_sends) == 2


async def test_a_call_while_another_retries_an_unreachable_gateway_fails_at_once_and_sends_nothing(
    simulator: SerwerSmsSimulator, http_session, freezer: FrozenDateTimeFactory
) -> None:
    client = token_client(http_session, simulator, backoff=0.5)
    await simulator.go_offline()
    refused = told_refused(client)
    first = asyncio.ensure_future(client.account_limits())
    await refused.wait()  # refused once; now in its pause before the next try
    send = asyncio.ensure_future(client.send_mms([PHONE], title="alarm", text="x"))
    _, moved = await on_frozen_clock(freezer, asyncio.wait((send,)))
    assert moved == 0  # answered without a try of its own (nor the other's pauses)
    with pytest.raises(SerwerSmsNotReachedError, match="not tried"):
        send.result()
    await simulator.go_online()
    limits, _ = await on_frozen_clock(freezer, first)
    assert limits
    # The gateway answered the first call's retry: the next send goes out.
    result = await client.send_mms([PHONE], title="alarm", text="y")
    assert result.queued == 1
    assert [m.text for m in simulator.messages] == ["y"]


async def test_once_any_reply_comes_calls_go_out_though_another_still_retries(
    simulator: SerwerSmsSimulator,
    http_session,
    freezer: FrozenDateTimeFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = token_client(http_session, simulator, backoff=0.5)
    await simulator.go_offline()
    # Both refused together; back online, one gets its answer while the other meets a 502 and waits on.
    both_refused = requests_refused(monkeypatch, client, 2)
    files = asyncio.ensure_future(client.list_files())
    limits = asyncio.ensure_future(client.account_limits())
    await both_refused.wait()
    simulator.fail_next("files/index", Fault("status", status=502))
    await simulator.go_online()
    await on_frozen_clock(freezer, limits)
    assert not files.done()  # still retrying after its 502
    result = await client.send_mms([PHONE], title="alarm", text="x")
    assert result.queued == 1
    await on_frozen_clock(freezer, files)


async def test_after_a_retry_ladder_gave_up_the_next_call_tries_the_gateway_itself(
    simulator: SerwerSmsSimulator, http_session, freezer: FrozenDateTimeFactory
) -> None:
    client = token_client(http_session, simulator, backoff=0.5)
    await simulator.go_offline()
    with pytest.raises(SerwerSmsNotReachedError, match="cannot connect"):
        await on_frozen_clock(freezer, client.account_limits())
    await simulator.go_online()
    # No lingering note: the gateway is asked at once, so its return is noticed at once.
    result = await client.send_mms([PHONE], title="alarm", text="x")
    assert result.queued == 1


async def test_a_call_without_an_answer_never_makes_other_calls_fail_fast(
    simulator: SerwerSmsSimulator, http_session, freezer: FrozenDateTimeFactory
) -> None:
    # The gateway took the upload and went quiet: it is there (the upload is tried again after a pause).
    simulator.fail_next("files/add", Fault("timeout", hold=5))
    client = token_client(http_session, simulator, timeout=0.3, backoff=5.0)
    upload = asyncio.ensure_future(
        client.upload_file(make_jpeg(), filename="a.jpg", content_type="image/jpeg")
    )
    await on_frozen_clock(freezer, asyncio.sleep(0.5))  # timed out; now in its 5-s pause
    assert not upload.done()
    send = await client.send_mms([PHONE], title="alarm", text="x")
    assert send.queued == 1
    await on_frozen_clock(freezer, upload)


async def test_the_gateway_going_and_coming_back_is_told_once_each(
    simulator: SerwerSmsSimulator, http_session, freezer: FrozenDateTimeFactory
) -> None:
    client = token_client(http_session, simulator, backoff=0.01)
    told: list[tuple[bool, str]] = []
    client.add_reachability_listener(lambda reachable, detail: told.append((reachable, detail)))
    await client.account_limits()
    assert told == []  # a first answer is no news
    await simulator.go_offline()
    for _ in range(5):
        with pytest.raises(SerwerSmsNotReachedError):
            await on_frozen_clock(freezer, client.reports(["abc"]))
    assert told == [(False, "cannot connect to the gateway: ClientConnectorError")]
    await simulator.go_online()
    simulator.fail_next("account/limits", Fault("status", status=503), times=3)
    with pytest.raises(Exception, match="HTTP 503"):
        await on_frozen_clock(freezer, client.account_limits())
    assert len(told) == 1  # a 5xx is not an answer
    simulator.fail_next("account/limits", Fault("error", code=1002))
    with pytest.raises(Exception, match="1002"):
        await client.account_limits()
    assert told[1:] == [(True, "account/limits: HTTP 200")]  # a refusal is


async def test_a_gateway_unreachable_from_the_start_is_told(simulator, http_session, freezer) -> None:
    client = token_client(http_session, simulator, backoff=0.01)
    told: list[bool] = []
    unsubscribe = client.add_reachability_listener(lambda reachable, _detail: told.append(reachable))
    await simulator.go_offline()
    with pytest.raises(SerwerSmsNotReachedError):
        await on_frozen_clock(freezer, client.account_limits())
    await simulator.go_online()
    await client.account_limits()
    unsubscribe()
    await simulator.go_offline()
    with pytest.raises(SerwerSmsNotReachedError):
        await on_frozen_clock(freezer, client.account_limits())
    assert told == [False, True]


async def test_a_failing_listener_changes_nothing_for_the_request(
    simulator: SerwerSmsSimulator, http_session, caplog: pytest.LogCaptureFixture
) -> None:
    client = token_client(http_session, simulator, backoff=0.01)

    def broken(_reachable: bool, _detail: str) -> None:
        raise RuntimeError("listener bug")

    client.add_reachability_listener(broken)
    await simulator.go_offline()
    with pytest.raises(SerwerSmsNotReachedError):
        await client.send_mms([PHONE], title="alarm", text="x")  # deferrable, not a RuntimeError
    await simulator.go_online()
    assert (await client.send_mms([PHONE], title="alarm", text="y")).queued == 1
    assert "A reachability listener failed" in caplog.text
