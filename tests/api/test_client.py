"""The SerwerSMS client against the simulator, over real loopback HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
import contextlib
from datetime import UTC, datetime, timedelta
import socket
from typing import Any

import aiohttp
from freezegun.api import FrozenDateTimeFactory
import pytest

from custom_components.serwersms.api import (
    SerwerSmsAccessDeniedError,
    SerwerSmsApiError,
    SerwerSmsAuthError,
    SerwerSmsClient,
    SerwerSmsConnectionError,
    SerwerSmsCreditsExhaustedError,
    SerwerSmsIpNotAllowedError,
    SerwerSmsMmsNotPermittedError,
    SerwerSmsNotFoundError,
    SerwerSmsNotReachedError,
    SerwerSmsOutcomeUnknownError,
    SerwerSmsRateLimitError,
    SerwerSmsResponseError,
    SerwerSmsServerError,
    SerwerSmsTimeoutError,
    SerwerSmsValidationError,
    client as client_module,
)
from serwersms_simulator import Fault, SerwerSmsSimulator
import serwersms_simulator.server as simulator_server
from tests.conftest import PASSWORD, TOKEN, USERNAME, make_jpeg, make_png


def token_client(
    session: aiohttp.ClientSession, sim: SerwerSmsSimulator, **kwargs: object
) -> SerwerSmsClient:
    options: dict[str, object] = {"backoff": 0.01, "timeout": 2.0} | kwargs
    return SerwerSmsClient(session, token=TOKEN, base_url=sim.url, **options)  # type: ignore[arg-type]


async def on_frozen_clock(
    freezer: FrozenDateTimeFactory, call: Awaitable[Any], *, step: float = 0.05, limit: float = 60.0
) -> tuple[Any, float]:
    """Await `call` on the frozen clock, moving it by `step` each time client and simulator are idle.

    Timeouts, backoff and Retry-After waits run on the event loop's clock, which the freezer holds, so
    nothing waits in real time and the seconds moved are exact. Returns the result and those seconds.
    """
    task = asyncio.ensure_future(call)
    moved = 0.0
    while True:
        for _ in range(50):  # let loopback I/O between client and simulator run its course
            if task.done():
                return task.result(), moved
            await asyncio.sleep(0)
        if moved >= limit:
            task.cancel()
            pytest.fail(f"still waiting after {limit:g} s on the frozen clock")
        freezer.tick(step)
        moved += step


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_token_auth_uses_bearer_header_and_names_the_system(simulator, http_session) -> None:
    limits = await token_client(http_session, simulator).account_limits()
    assert {limit.type for limit in limits} >= {"mms", "eco"}
    request = simulator.requests_to("account/limits")[0]
    assert request.auth == "token"
    assert request.fields["system"] == "home_assistant"
    assert "username" not in request.fields
    assert "password" not in request.fields


async def test_credentials_auth_sends_login_in_body(simulator, http_session) -> None:
    client = SerwerSmsClient(http_session, username=USERNAME, password=PASSWORD, base_url=simulator.url)
    mms = await client.mms_limit()
    assert mms is not None
    assert mms.value == 1000
    assert simulator.requests_to("account/limits")[0].auth == "credentials"


def test_client_needs_credentials(http_session) -> None:
    with pytest.raises(ValueError, match="token"):
        SerwerSmsClient(http_session, username=USERNAME)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch_size"):
        SerwerSmsClient(http_session, token=TOKEN, batch_size=101)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected", "unlimited"), [("no_limit", None, True), ("not_available", None, False)]
)
async def test_mms_limit_without_a_number(simulator, http_session, value, expected, unlimited) -> None:
    simulator.mms_limit_override = value
    mms = await token_client(http_session, simulator).mms_limit()
    assert mms is not None
    assert (mms.value, mms.unlimited, mms.raw_value) == (expected, unlimited, value)


@pytest.mark.parametrize("status", [401, 200])
async def test_wrong_token_is_an_auth_error_either_way(simulator, http_session, status) -> None:
    simulator.bad_token_status = status
    client = SerwerSmsClient(http_session, token="wrong-token-xyz", base_url=simulator.url)
    with pytest.raises(SerwerSmsAuthError) as err:
        await client.account_limits()
    assert err.value.code == 1001
    assert "wrong-token-xyz" not in str(err.value)
    assert len(simulator.requests_to("account/limits")) == 1  # auth errors are not retried


async def test_wrong_password_is_an_auth_error_without_the_password(simulator, http_session) -> None:
    client = SerwerSmsClient(http_session, username=USERNAME, password="nope-123", base_url=simulator.url)
    with pytest.raises(SerwerSmsAuthError) as err:
        await client.account_limits()
    assert "nope-123" not in str(err.value)
    assert USERNAME not in str(err.value)


async def test_access_and_ip_refusals_map_to_their_errors(simulator, http_session) -> None:
    client = token_client(http_session, simulator)
    simulator.api_access = False
    with pytest.raises(SerwerSmsAccessDeniedError) as denied:
        await client.account_limits()
    assert denied.value.code == 1002
    simulator.api_access = True
    simulator.ip_allowed = False
    with pytest.raises(SerwerSmsIpNotAllowedError) as ip:
        await client.account_limits()
    assert ip.value.code == 1003
    assert ip.value.gateway_message == "Adres IP nie ma dostępu"


async def test_upload_stores_exactly_the_given_bytes(simulator, http_session) -> None:
    jpeg = make_jpeg(320, 240)
    file_id = await token_client(http_session, simulator).upload_file(
        jpeg, filename="front_door.jpg", content_type="image/jpeg"
    )
    assert len(file_id) == 10
    int(file_id, 16)
    stored = simulator.files[file_id]
    assert stored.content == jpeg
    assert (stored.name, stored.content_type) == ("front_door.jpg", "image/jpeg")
    request = simulator.requests_to("files/add")[0]
    assert request.files["file"] == jpeg
    assert request.fields["type"] == "mms"
    assert "url" not in request.fields


async def test_upload_with_credentials_carries_them_as_form_fields(simulator, http_session) -> None:
    client = SerwerSmsClient(http_session, username=USERNAME, password=PASSWORD, base_url=simulator.url)
    file_id = await client.upload_file(make_png(), filename="a.png", content_type="image/png")
    assert simulator.files[file_id].content_type == "image/png"
    assert simulator.requests_to("files/add")[0].auth == "credentials"


async def test_gateway_refuses_bytes_that_are_not_an_allowed_type(simulator, http_session) -> None:
    with pytest.raises(SerwerSmsValidationError) as err:
        await token_client(http_session, simulator).upload_file(
            b"RIFF\x00\x00\x00\x00WEBPVP8 ", filename="x.jpg", content_type="image/jpeg"
        )
    assert err.value.code == 1006
    assert simulator.files == {}


async def gateway_call(http_session, simulator, endpoint: str, **fields: Any) -> dict[str, Any]:
    """A raw API call to the simulator, for what the client does not do itself."""
    async with http_session.post(
        f"{simulator.url}{endpoint}.json", json=fields, headers={"Authorization": f"Bearer {TOKEN}"}
    ) as response:
        reply: dict[str, Any] = await response.json()
        return reply


async def test_the_simulator_fetches_an_upload_by_url(simulator, http_session) -> None:
    client = token_client(http_session, simulator)
    first = await client.upload_file(make_png(), filename="a.png", content_type="image/png")
    reply = await gateway_call(
        http_session,
        simulator,
        "files/add",
        type="mms",
        url=f"{simulator.url}_sim/files/{first}",
        name="copy.png",
    )
    assert simulator.files[reply["id"]].content == simulator.files[first].content
    assert simulator.files[reply["id"]].name == "copy.png"


async def test_list_and_delete_files(simulator, http_session) -> None:
    client = token_client(http_session, simulator)
    file_id = await client.upload_file(make_png(), filename="a.png", content_type="image/png")
    files = await client.list_files()
    assert [(f.id, f.name, f.type) for f in files] == [(file_id, "a.png", "mms")]
    assert files[0].size == simulator.files[file_id].size
    viewed = await gateway_call(http_session, simulator, "files/view", id=file_id, type="mms")
    assert viewed["id"] == file_id
    await client.delete_file(file_id)
    assert await client.list_files() == []
    with pytest.raises(SerwerSmsNotFoundError):
        await client.delete_file(file_id)
    gone = await gateway_call(http_session, simulator, "files/view", id=file_id, type="mms")
    assert gone["error"]["code"] == 1004


async def test_send_mms_carries_phones_title_files_and_asks_for_details(simulator, http_session) -> None:
    client = token_client(http_session, simulator)
    file_id = await client.upload_file(make_jpeg(), filename="cam.jpg", content_type="image/jpeg")
    result = await client.send_mms(
        ["+48500600700", "+4845616"], title="Ruch przy drzwiach", file_ids=[file_id], text="Front door"
    )
    assert [(r.phone, r.status) for r in result.recipients] == [
        ("+48500600700", "queued"),
        ("+4845616", "unsent"),
    ]
    assert result.recipients[1].error_code == 3103
    assert result.recipients[1].error_message == "Błędny numer odbiorcy"
    assert (result.queued, result.unsent) == (1, 1)
    request = simulator.requests_to("messages/send_mms")[0]
    assert request.fields["phone"] == ["+48500600700", "+4845616"]
    assert request.fields["file_id"] == [file_id]
    assert request.fields["details"] is True
    assert request.fields["text"] == "Front door"
    assert [m.phone for m in simulator.messages] == ["+48500600700"]
    assert simulator.credits == 999


async def test_test_mode_sends_nothing_and_costs_nothing(simulator, http_session) -> None:
    result = await token_client(http_session, simulator).send_mms(
        ["+48500600700"], title="t", text="hi", test=True
    )
    assert result.queued == 1
    assert simulator.messages == []
    assert simulator.credits == 1000
    assert simulator.requests_to("messages/send_mms")[0].fields["test"] is True


async def test_scheduled_date_is_sent_in_warsaw_time(simulator, http_session) -> None:
    when = datetime(2027, 1, 15, 11, 30, tzinfo=UTC)  # 12:30 in Warsaw (CET)
    await token_client(http_session, simulator).send_mms(["+48500600700"], title="t", text="x", date=when)
    assert simulator.requests_to("messages/send_mms")[0].fields["date"] == "2027-01-15 12:30:00"
    assert simulator.messages[0].scheduled == "2027-01-15 12:30:00"


async def test_send_refuses_naive_dates_and_bad_arguments(simulator, http_session) -> None:
    client = token_client(http_session, simulator)
    with pytest.raises(ValueError, match="timezone"):
        await client.send_mms(["+48500600700"], title="t", text="x", date=datetime(2030, 1, 1))  # noqa: DTZ001
    with pytest.raises(ValueError, match="recipients"):
        await client.send_mms([], title="t", text="x")
    with pytest.raises(ValueError, match="10 files"):
        await client.send_mms(["+48500600700"], title="t", file_ids=["a"] * 11)
    assert simulator.requests == []


async def test_gateway_refusals_of_a_send(simulator, http_session) -> None:
    client = token_client(http_session, simulator)
    simulator.credits = 1
    with pytest.raises(SerwerSmsCreditsExhaustedError) as exhausted:
        await client.send_mms(["+48500600700", "+48500600701"], title="t", text="x")
    assert exhausted.value.code == 3004
    simulator.mms_allowed = False
    with pytest.raises(SerwerSmsMmsNotPermittedError):
        await client.send_mms(["+48500600700"], title="t", text="x")
    simulator.mms_allowed = True
    with pytest.raises(SerwerSmsNotFoundError):
        await client.send_mms(["+48500600700"], title="t", file_ids=["0123456789"])
    with pytest.raises(SerwerSmsValidationError):
        await client.send_mms(["+48500600700"], title="x" * 41, text="x")
    assert simulator.messages == []


async def test_250_recipients_make_three_requests_with_results_in_order(simulator, http_session) -> None:
    phones = [f"+48500{i:06d}" for i in range(250)]
    phones[137] = "123"  # refused by the gateway, reported in place
    result = await token_client(http_session, simulator).send_mms(phones, title="t", text="x")
    sends = simulator.requests_to("messages/send_mms")
    assert sorted(len(r.fields["phone"]) for r in sends) == [50, 100, 100]
    assert [r.phone for r in result.recipients] == phones
    assert result.recipients[137].status == "unsent"
    assert result.recipients[137].error_code == 3103
    assert result.queued == 249


async def test_a_refused_batch_is_reported_while_others_go_through(simulator, http_session) -> None:
    simulator.fail_next("messages/send_mms", Fault("error", code=3004))
    phones = [f"+48500{i:06d}" for i in range(250)]
    result = await token_client(http_session, simulator, max_parallel_batches=1).send_mms(
        phones, title="t", text="x"
    )
    assert [r.status for r in result.recipients[:100]] == ["unsent"] * 100
    assert {r.error_code for r in result.recipients[:100]} == {3004}
    assert [r.status for r in result.recipients[100:]] == ["queued"] * 150
    assert len(simulator.messages) == 150


async def test_a_rate_limited_batch_is_reported_unsent(simulator, http_session) -> None:
    simulator.fail_next("messages/send_mms", Fault("status", status=429, retry_after=60))
    phones = [f"+48500{i:06d}" for i in range(150)]
    result = await token_client(http_session, simulator, max_parallel_batches=1).send_mms(
        phones, title="t", text="x"
    )
    assert {r.status for r in result.recipients[:100]} == {"unsent"}
    assert {r.status for r in result.recipients[100:]} == {"queued"}


async def test_a_batch_with_unknown_outcome_is_reported_as_unknown(simulator, http_session) -> None:
    simulator.fail_next("messages/send_mms", Fault("status", status=502))
    phones = [f"+48500{i:06d}" for i in range(150)]
    result = await token_client(http_session, simulator, max_parallel_batches=1).send_mms(
        phones, title="t", text="x"
    )
    assert {r.status for r in result.recipients[:100]} == {"unknown"}
    assert {r.status for r in result.recipients[100:]} == {"queued"}
    assert len(simulator.requests_to("messages/send_mms")) == 2


async def test_when_every_batch_fails_the_error_is_raised(simulator, http_session) -> None:
    simulator.mms_allowed = False
    with pytest.raises(SerwerSmsMmsNotPermittedError):
        await token_client(http_session, simulator).send_mms(
            [f"+48500{i:06d}" for i in range(150)], title="t", text="x"
        )


async def test_timed_out_send_is_never_sent_twice(simulator, http_session, freezer) -> None:
    simulator.fail_next("messages/send_mms", Fault("hang_after", hold=5))
    client = token_client(http_session, simulator, timeout=0.3)
    with pytest.raises(SerwerSmsOutcomeUnknownError, match="may have been sent"):
        await on_frozen_clock(freezer, client.send_mms(["+48500600700"], title="t", text="x"))
    await on_frozen_clock(freezer, asyncio.sleep(10))  # the held reply goes out; no late retry follows
    assert len(simulator.requests_to("messages/send_mms")) == 1
    assert len(simulator.processed_sends) == 1
    assert len(simulator.messages) == 1


@pytest.mark.parametrize(
    "fault",
    [
        Fault("status", status=500),
        Fault("status", status=503),
        Fault("reset"),
        Fault("malformed"),
        Fault("html", status=502),
    ],
)
async def test_send_without_a_clear_answer_is_not_retried(simulator, http_session, fault) -> None:
    simulator.fail_next("messages/send_mms", fault)
    with pytest.raises(SerwerSmsOutcomeUnknownError):
        await token_client(http_session, simulator).send_mms(["+48500600700"], title="t", text="x")
    assert len(simulator.requests_to("messages/send_mms")) == 1


async def test_send_is_retried_when_it_never_reached_the_gateway(loopback_sockets, freezer) -> None:
    port = free_port()
    sim = SerwerSmsSimulator(token=TOKEN)
    refused = asyncio.Event()

    async def on_request_exception(*_: object) -> None:
        refused.set()

    trace = aiohttp.TraceConfig()
    trace.on_request_exception.append(on_request_exception)
    async with aiohttp.ClientSession(trace_configs=[trace]) as session:
        client = SerwerSmsClient(session, token=TOKEN, base_url=f"http://127.0.0.1:{port}/", backoff=0.3)
        send = asyncio.ensure_future(client.send_mms(["+48500600700"], title="t", text="x"))
        await refused.wait()  # nothing listened on the first attempt; the client now waits its backoff
        await sim.start(port=port)
        try:
            result, waited = await on_frozen_clock(freezer, send)
        finally:
            await sim.stop()
    assert result.queued == 1
    assert waited >= 0.3
    assert len(sim.requests_to("messages/send_mms")) == 1


async def test_unreachable_gateway_is_a_connection_error(http_session) -> None:
    client = SerwerSmsClient(
        http_session, token=TOKEN, base_url=f"http://127.0.0.1:{free_port()}/", backoff=0.01
    )
    with pytest.raises(SerwerSmsConnectionError) as err:
        await client.account_limits()
    assert TOKEN not in str(err.value)


async def test_send_with_429_waits_retry_after_then_sends_once(simulator, http_session, freezer) -> None:
    simulator.fail_next("messages/send_mms", Fault("status", status=429, retry_after=5))
    client = token_client(http_session, simulator)
    result, waited = await on_frozen_clock(
        freezer, client.send_mms(["+48500600700"], title="t", text="x"), step=0.5
    )
    assert 5 <= waited <= 6
    assert result.queued == 1
    assert len(simulator.requests_to("messages/send_mms")) == 2
    assert len(simulator.processed_sends) == 1


async def test_429_with_a_long_retry_after_is_raised(simulator, http_session) -> None:
    simulator.fail_next("account/limits", Fault("status", status=429, retry_after=120))
    with pytest.raises(SerwerSmsRateLimitError) as err:
        await token_client(http_session, simulator).account_limits()
    assert err.value.retry_after == 120


@pytest.mark.parametrize(
    "fault",
    [Fault("status", status=500), Fault("status", status=502), Fault("reset"), Fault("html", status=503)],
)
async def test_upload_is_retried_after_transient_failures(simulator, http_session, fault) -> None:
    simulator.fail_next("files/add", fault)
    jpeg = make_jpeg(64, 64)
    file_id = await token_client(http_session, simulator).upload_file(
        jpeg, filename="a.jpg", content_type="image/jpeg"
    )
    assert simulator.files[file_id].content == jpeg
    assert len(simulator.requests_to("files/add")) == 2


async def test_upload_timeout_is_retried(simulator, http_session, freezer) -> None:
    simulator.fail_next("files/add", Fault("timeout", hold=5))
    client = token_client(http_session, simulator, timeout=0.3)
    file_id, _ = await on_frozen_clock(
        freezer, client.upload_file(make_png(), filename="a.png", content_type="image/png")
    )
    assert file_id in simulator.files
    assert len(simulator.requests_to("files/add")) == 2


async def test_persistent_server_errors_give_up_after_the_attempt_cap(simulator, http_session) -> None:
    simulator.fail_next("files/index", Fault("status", status=500), times=5)
    with pytest.raises(SerwerSmsServerError) as err:
        await token_client(http_session, simulator, max_attempts=3).list_files()
    assert err.value.status == 500
    assert len(simulator.requests_to("files/index")) == 3


async def test_persistent_timeouts_raise_a_timeout_error(simulator, http_session, freezer) -> None:
    simulator.fail_next("account/limits", Fault("timeout", hold=5), times=2)
    client = token_client(http_session, simulator, timeout=0.2, max_attempts=2)
    with pytest.raises(SerwerSmsTimeoutError):
        await on_frozen_clock(freezer, client.account_limits())
    assert len(simulator.requests_to("account/limits")) == 2


async def test_malformed_reply_to_a_listing_is_a_response_error(simulator, http_session) -> None:
    simulator.fail_next("files/index", Fault("malformed"), times=3)
    with pytest.raises(SerwerSmsResponseError):
        await token_client(http_session, simulator).list_files()
    assert len(simulator.requests_to("files/index")) == 3


async def test_unexpected_error_code_keeps_code_and_message(simulator, http_session) -> None:
    simulator.fail_next("account/limits", Fault("error", code=1007))
    with pytest.raises(SerwerSmsApiError) as err:
        await token_client(http_session, simulator).account_limits()
    assert err.value.code == 1007


async def test_when_no_batch_is_answered_but_one_may_have_gone_out_that_is_what_is_raised(
    simulator, http_session
) -> None:
    simulator.fail_next("messages/send_mms", Fault("error", code=3004))
    simulator.fail_next("messages/send_mms", Fault("malformed"))
    client = token_client(http_session, simulator, max_parallel_batches=1)
    with pytest.raises(SerwerSmsOutcomeUnknownError, match="may have been sent"):
        await client.send_mms([f"+48500{i:06d}" for i in range(150)], title="t", text="x")
    assert len(simulator.requests_to("messages/send_mms")) == 2
    assert len(simulator.messages) == 50  # the second batch did go out, once


async def test_the_gateways_clock_is_read_from_its_answers(simulator, http_session, freezer) -> None:
    client = token_client(http_session, simulator)
    assert client.gateway_now() is None  # no answer yet
    gateway = datetime(2026, 12, 4, 21, 30, 15, tzinfo=UTC)
    simulator.clock = lambda: gateway.timestamp()  # five hours ahead of this machine's frozen clock
    freezer.move_to("2026-12-04 16:30:15+00:00")
    await client.account_limits()
    assert client.gateway_now() == gateway
    freezer.tick(90)  # counted on the monotonic clock since the answer
    assert client.gateway_now() == gateway + timedelta(seconds=90)
    far_out = (
        "Fri, 31 Dec 9999 23:59:59 -0100",
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "Mon, 01 Jan 1900 00:00:00 GMT",
    )
    for odd in ("", "yesterday", "Thu, 99 Foo 2026 25:61:00 GMT", *far_out):
        client._note_gateway_clock(odd)  # an odd header leaves the last good reading
    assert client.gateway_now() == gateway + timedelta(seconds=90)


async def test_the_gateways_clock_counts_the_time_the_machine_was_suspended(
    simulator, http_session, freezer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The monotonic clock stands still while a machine sleeps; the gateway's does not."""
    since_boot = [1000.0]
    monkeypatch.setattr(client_module, "_since_boot", lambda: since_boot[0])
    gateway = datetime(2026, 12, 4, 21, 30, 15, tzinfo=UTC)
    simulator.clock = lambda: gateway.timestamp()
    client = token_client(http_session, simulator)
    await client.account_limits()
    since_boot[0] += 2 * 3600  # two hours suspended: the frozen monotonic clock did not move
    assert client.gateway_now() == gateway + timedelta(hours=2)


async def test_a_date_header_out_of_range_does_not_cost_an_accepted_send(
    simulator, http_session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `Date` that parses but cannot be put in UTC (year 9999, west of Greenwich) changes nothing."""
    monkeypatch.setattr(
        simulator_server, "formatdate", lambda *_args, **_kwargs: "Fri, 31 Dec 9999 23:59:59 -0100"
    )
    client = token_client(http_session, simulator)
    result = await client.send_sms(["+48500600700"], text="hi")
    assert [r.status for r in result.recipients] == ["queued"]
    assert client.gateway_now() is None


@pytest.mark.parametrize("total", [2.0, 8.0, 30.0])
async def test_a_connection_that_never_comes_is_not_reached_whatever_the_timeout(
    total: float, simulator, http_session, freezer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name lookup or connect that hangs ends as "never reached the gateway", also when the total
    timeout is short (the connection's own limit due together with it would be lost to it)."""

    async def hangs(*_args: object, **_kwargs: object) -> None:
        await asyncio.sleep(3600)

    monkeypatch.setattr(aiohttp.TCPConnector, "_create_connection", hangs)
    client = token_client(http_session, simulator, timeout=total, max_attempts=1)
    with pytest.raises(SerwerSmsNotReachedError):
        await on_frozen_clock(freezer, client.send_sms(["+48500600700"], text="hi"))
    assert simulator.requests_to("messages/send_sms") == []


async def test_a_send_that_never_got_a_connection_is_not_reached_not_in_doubt(
    simulator, loopback_sockets, freezer
) -> None:
    """Waiting for a connection (a full pool here; a name lookup that hangs while the internet is down
    in a home) ends as "never reached the gateway": the MMS can wait in the outbox and go later. Taken
    for "may have been sent", it would be reported `unknown` and never sent."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
        simulator.fail_next("account/limits", Fault("timeout", hold=25))  # holds the only connection
        client = token_client(session, simulator, timeout=20.0, max_attempts=1)
        busy = asyncio.ensure_future(client.account_limits())
        with pytest.raises(SerwerSmsNotReachedError):
            await on_frozen_clock(freezer, client.send_mms(["+48500600700"], title="t", text="x"))
        assert simulator.requests_to("messages/send_mms") == []
        busy.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await busy
