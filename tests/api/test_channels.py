"""SMS, phone calls, reports by type, deleting a scheduled message and credits per service.

The client against the simulator over real loopback HTTP; time moves with the freezer.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from homeassistant.util import dt as dt_util
import pytest

from custom_components.serwersms.api import (
    MAX_CALL_TEXT,
    MAX_SMS_TEXT,
    SerwerSmsApiError,
    SerwerSmsClient,
    SerwerSmsMessageGoneError,
    SerwerSmsNotFoundError,
    SerwerSmsNotReachedError,
    SerwerSmsOutcomeUnknownError,
    SerwerSmsValidationError,
    limit_of,
    merge_batches,
)
from serwersms_simulator import NO_ANSWER_NUMBER, NO_MMS_NUMBER, Fault, SerwerSmsSimulator
from tests.api.test_client import gateway_call, on_frozen_clock
from tests.conftest import TOKEN

PHONE = "+48500600700"
POLISH = "Zażółć gęślą jaźń — ŻÓŁW, ĄĘ"


def client(session: aiohttp.ClientSession, sim: SerwerSmsSimulator, **kwargs: Any) -> SerwerSmsClient:
    options: dict[str, Any] = {"backoff": 0.01, "timeout": 2.0} | kwargs
    return SerwerSmsClient(session, token=TOKEN, base_url=sim.url, **options)


async def report_of(api: SerwerSmsClient, message_id: str | None, kind: str) -> tuple[str | None, str | None]:
    assert message_id is not None
    reports = await api.reports([message_id], type=kind)
    assert len(reports) == 1
    return reports[0].status, reports[0].reason


# --- SMS ------------------------------------------------------------------------------------------


async def test_an_eco_sms_keeps_polish_letters_and_asks_for_utf_and_details(simulator, http_session) -> None:
    result = await client(http_session, simulator).send_sms([PHONE, "+4845616"], text=POLISH)
    assert [(r.phone, r.status) for r in result.recipients] == [(PHONE, "queued"), ("+4845616", "unsent")]
    assert result.recipients[1].error_code == 3103
    request = simulator.requests_to("messages/send_sms")[0]
    assert request.fields["utf"] is True
    assert request.fields["details"] is True
    assert request.fields["phone"] == [PHONE, "+4845616"]
    # ECO: no sender at all; flash and speed only when asked for.
    assert not {"sender", "flash", "speed", "date", "test"} & request.fields.keys()
    [sms] = simulator.sms
    assert (sms.text, sms.type, sms.sender, sms.id) == (POLISH, "eco", None, result.recipients[0].id)
    assert sms.parts == 1
    assert simulator.type_credits["eco"] == 999
    assert simulator.type_credits["full"] == 1000


async def test_an_empty_sender_is_eco_and_a_named_one_is_full(simulator, http_session) -> None:
    api = client(http_session, simulator)
    await api.send_sms([PHONE], text="a", sender="")
    await api.send_sms([PHONE], text="b", sender="Dom", flash=True, speed=True)
    eco, full = simulator.requests_to("messages/send_sms")
    assert "sender" not in eco.fields
    assert (full.fields["sender"], full.fields["flash"], full.fields["speed"]) == ("Dom", True, True)
    assert [(s.type, s.sender, s.flash, s.speed) for s in simulator.sms] == [
        ("eco", None, False, False),
        ("full", "Dom", True, True),
    ]
    assert (simulator.type_credits["eco"], simulator.type_credits["full"]) == (999, 999)


async def test_priority_without_a_sender_is_refused_by_the_gateway(simulator, http_session) -> None:
    with pytest.raises(SerwerSmsValidationError) as err:
        await client(http_session, simulator).send_sms([PHONE], text="x", speed=True)
    assert err.value.code == 2000
    assert simulator.sms == []
    assert simulator.type_credits["eco"] == 1000


async def test_1000_numbers_make_10_sms_requests_with_results_in_order(simulator, http_session) -> None:
    phones = [f"+48500{i:06d}" for i in range(1000)]
    phones[555] = "12"
    outcomes = await client(http_session, simulator).send_sms_batches(phones, text="Alarm")
    requests = simulator.requests_to("messages/send_sms")
    assert len(requests) == 10
    assert all(len(r.fields["phone"]) == 100 for r in requests)
    assert [phone for outcome in outcomes for phone in outcome.phones] == phones
    recipients = [r for outcome in outcomes if outcome.result for r in outcome.result.recipients]
    assert [r.phone for r in recipients] == phones
    assert recipients[555].status == "unsent"
    assert len(simulator.sms) == 999
    assert simulator.most_in_flight["messages/send_sms"] <= 5


@pytest.mark.parametrize(
    "fault", [Fault("status", status=502), Fault("malformed"), Fault("reset"), Fault("hang_after", hold=5)]
)
async def test_an_sms_batch_that_may_have_reached_the_gateway_is_never_sent_again(
    simulator, http_session, freezer, fault
) -> None:
    simulator.fail_next("messages/send_sms", fault)
    api = client(http_session, simulator, max_parallel_batches=1, timeout=0.3)
    phones = [f"+48500{i:06d}" for i in range(150)]
    outcomes, _ = await on_frozen_clock(freezer, api.send_sms_batches(phones, text="x"))
    assert isinstance(outcomes[0].error, SerwerSmsOutcomeUnknownError)
    assert outcomes[0].result is None
    assert outcomes[1].result is not None
    assert outcomes[1].result.queued == 50
    await on_frozen_clock(freezer, api.reports([], type="eco"), limit=10)
    assert len(simulator.requests_to("messages/send_sms")) == 2


async def test_send_sms_raises_like_send_mms_when_no_batch_went_through(simulator, http_session) -> None:
    simulator.fail_next("messages/send_sms", Fault("status", status=500))
    with pytest.raises(SerwerSmsOutcomeUnknownError, match="may have been sent"):
        await client(http_session, simulator).send_sms([PHONE], text="x")
    simulator.type_credits["eco"] = 0
    with pytest.raises(SerwerSmsApiError) as err:
        await client(http_session, simulator).send_sms([PHONE], text="x")
    assert err.value.code == 3000
    assert len(simulator.requests_to("messages/send_sms")) == 2


async def test_sms_arguments_are_checked_before_anything_is_sent(simulator, http_session) -> None:
    api = client(http_session, simulator)
    await api.send_sms([PHONE], text="ż" * MAX_SMS_TEXT, test=True)
    with pytest.raises(ValueError, match=str(MAX_SMS_TEXT)):
        await api.send_sms([PHONE], text="ż" * (MAX_SMS_TEXT + 1))
    with pytest.raises(ValueError, match="empty"):
        await api.send_sms([PHONE], text="")
    with pytest.raises(ValueError, match="recipients"):
        await api.send_sms([], text="x")
    with pytest.raises(ValueError, match="timezone"):
        await api.send_sms([PHONE], text="x", date=datetime(2030, 1, 1))  # noqa: DTZ001
    assert len(simulator.requests) == 1  # the test send at the limit only


async def test_the_longest_sms_the_client_allows_is_one_the_gateway_takes(simulator, http_session) -> None:
    api = client(http_session, simulator)
    await api.send_sms([PHONE], text="ą" * MAX_SMS_TEXT)
    assert simulator.sms[0].parts == 6
    reply = await gateway_call(
        http_session, simulator, "messages/send_sms", phone=PHONE, text="ą" * (MAX_SMS_TEXT + 1), utf=True
    )
    assert reply["error"]["code"] == 3102
    assert len(simulator.sms) == 1


async def test_sms_date_and_test_mode(simulator, http_session) -> None:
    api = client(http_session, simulator)
    await api.send_sms([PHONE], text="x", date=datetime(2027, 7, 1, 10, 0, tzinfo=UTC), test=True)
    request = simulator.requests_to("messages/send_sms")[0]
    assert (request.fields["date"], request.fields["test"]) == ("2027-07-01 12:00:00", True)  # CEST
    assert simulator.sms == []
    assert simulator.type_credits["eco"] == 1000


# --- calls ----------------------------------------------------------------------------------------


async def test_a_call_reads_the_text_and_is_reported_as_voice(simulator, http_session, freezer) -> None:
    api = client(http_session, simulator)
    result = await api.send_voice([PHONE, NO_ANSWER_NUMBER], text=POLISH)
    request = simulator.requests_to("messages/send_voice")[0]
    assert (request.fields["text"], request.fields["details"]) == (POLISH, True)
    assert [(c.phone, c.text) for c in simulator.calls] == [(PHONE, POLISH), (NO_ANSWER_NUMBER, POLISH)]
    assert simulator.type_credits["voice"] == 98
    answered, missed = (r.id for r in result.recipients)
    assert await report_of(api, answered, "voice") == ("in_progress", None)
    freezer.tick(simulator.delivery_delay)
    assert await report_of(api, answered, "voice") == ("delivered", None)
    assert await report_of(api, missed, "voice") == ("undelivered", "missed_call")
    [report] = await api.reports([missed or ""], type="voice")
    assert report.outcome == "undelivered"


async def test_call_text_limits(simulator, http_session) -> None:
    api = client(http_session, simulator)
    with pytest.raises(ValueError, match=str(MAX_CALL_TEXT)):
        await api.send_voice([PHONE], text="x" * (MAX_CALL_TEXT + 1))
    with pytest.raises(ValueError, match="empty"):
        await api.send_voice([PHONE], text="")
    assert simulator.requests == []
    reply = await gateway_call(
        http_session, simulator, "messages/send_voice", phone=PHONE, text="x" * (MAX_CALL_TEXT + 1)
    )
    assert reply["error"]["code"] == 3102
    await api.send_voice([PHONE], text="x" * MAX_CALL_TEXT)
    assert len(simulator.calls) == 1


async def test_a_call_batch_that_may_have_gone_out_is_not_repeated(simulator, http_session) -> None:
    simulator.fail_next("messages/send_voice", Fault("status", status=503))
    with pytest.raises(SerwerSmsOutcomeUnknownError):
        await client(http_session, simulator).send_voice([PHONE], text="x")
    assert len(simulator.requests_to("messages/send_voice")) == 1


# --- reports by type and the special numbers --------------------------------------------------------


async def test_each_report_type_reports_only_its_own_messages(simulator, http_session, freezer) -> None:
    api = client(http_session, simulator)
    mms = (await api.send_mms([PHONE], title="t", text="x")).recipients[0].id
    eco = (await api.send_sms([PHONE], text="x")).recipients[0].id
    full = (await api.send_sms([PHONE], text="x", sender="Dom")).recipients[0].id
    call = (await api.send_voice([PHONE], text="x")).recipients[0].id
    ids = [i for i in (mms, eco, full, call) if i]
    freezer.tick(simulator.delivery_delay)
    found = {
        kind: [r.id for r in await api.reports(ids, type=kind)] for kind in ("mms", "eco", "full", "voice")
    }
    assert found == {"mms": [mms], "eco": [eco], "full": [full], "voice": [call]}
    assert [r.fields["type"] for r in simulator.requests_to("messages/reports")] == [
        "mms",
        "eco",
        "full",
        "voice",
    ]
    assert [r.id for r in await api.reports(ids)] == [mms]  # type defaults to mms
    with pytest.raises(ValueError, match="type"):
        await api.reports(ids, type="sms")


async def test_a_number_that_refuses_mms_still_gets_sms_and_calls(simulator, http_session, freezer) -> None:
    api = client(http_session, simulator)
    mms = (await api.send_mms([NO_MMS_NUMBER], title="t", text="x")).recipients[0]
    sms = (await api.send_sms([NO_MMS_NUMBER], text="x")).recipients[0]
    call = (await api.send_voice([NO_MMS_NUMBER], text="x")).recipients[0]
    assert {mms.status, sms.status, call.status} == {"queued"}
    freezer.tick(simulator.delivery_delay)
    assert await report_of(api, mms.id, "mms") == ("undelivered", "unsupported_number")
    assert await report_of(api, sms.id, "eco") == ("delivered", None)
    assert await report_of(api, call.id, "voice") == ("delivered", None)


async def test_a_number_that_never_picks_up_gets_sms_and_mms(simulator, http_session, freezer) -> None:
    api = client(http_session, simulator)
    sms = (await api.send_sms([NO_ANSWER_NUMBER], text="x")).recipients[0]
    mms = (await api.send_mms([NO_ANSWER_NUMBER], title="t", text="x")).recipients[0]
    freezer.tick(simulator.delivery_delay)
    assert await report_of(api, sms.id, "eco") == ("delivered", None)
    assert await report_of(api, mms.id, "mms") == ("delivered", None)


async def test_special_numbers_and_per_channel_failures_are_configurable(loopback_sockets, freezer) -> None:
    sim = SerwerSmsSimulator(
        token=TOKEN,
        no_mms_numbers=["500600701"],
        no_answer_numbers=[],
        undeliverable_sms={PHONE: "number_is_blacklisted"},
        undeliverable_calls={"+48500600702": "operator_error"},
    )
    await sim.start()
    try:
        async with aiohttp.ClientSession() as session:
            api = client(session, sim)
            mms = (await api.send_mms(["+48500600701", NO_MMS_NUMBER], title="t", text="x")).recipients
            sms = (await api.send_sms([PHONE], text="x")).recipients[0]
            calls = (await api.send_voice([NO_ANSWER_NUMBER, "+48500600702"], text="x")).recipients
            freezer.tick(sim.delivery_delay)
            assert await report_of(api, mms[0].id, "mms") == ("undelivered", "unsupported_number")
            assert await report_of(api, mms[1].id, "mms") == ("delivered", None)
            assert await report_of(api, sms.id, "eco") == ("undelivered", "number_is_blacklisted")
            assert await report_of(api, calls[0].id, "voice") == ("delivered", None)
            assert await report_of(api, calls[1].id, "voice") == ("undelivered", "operator_error")
    finally:
        await sim.stop()


# --- scheduled messages and messages/delete ---------------------------------------------------------


async def test_a_scheduled_sms_is_saved_until_due_and_can_be_deleted_until_then(
    simulator, http_session, freezer
) -> None:
    freezer.move_to("2026-11-25 12:00:00+00:00")
    api = client(http_session, simulator)
    at = dt_util.utcnow() + timedelta(hours=1)
    kept = (await api.send_sms([PHONE], text="heartbeat 1", date=at)).recipients[0].id
    dropped = (await api.send_sms([PHONE], text="heartbeat 2", date=at)).recipients[0].id
    call = (await api.send_voice([PHONE], text="x", date=at)).recipients[0].id
    assert kept
    assert dropped
    assert call
    assert {m.id for m in simulator.scheduled} == {kept, dropped, call}
    assert await report_of(api, kept, "eco") == ("saved", None)
    await api.delete_message(dropped)
    await api.delete_message(call)
    assert [m.id for m in simulator.scheduled] == [kept]
    assert [m.id for m in simulator.deleted] == [dropped, call]
    assert await api.reports([dropped], type="eco") == []
    with pytest.raises(SerwerSmsMessageGoneError):
        await api.delete_message(dropped)  # deleted before: already gone
    freezer.tick(timedelta(hours=1))
    assert simulator.scheduled == []
    assert await report_of(api, kept, "eco") == ("in_progress", None)
    with pytest.raises(SerwerSmsMessageGoneError) as err:
        await api.delete_message(kept)  # it went out: nothing to cancel
    assert err.value.code == 1004
    assert isinstance(err.value, SerwerSmsNotFoundError)
    freezer.tick(simulator.delivery_delay)
    assert await report_of(api, kept, "eco") == ("delivered", None)
    assert [m.id for m in simulator.sms] == [kept]


async def test_deleting_an_unknown_or_sent_message_is_already_gone(simulator, http_session) -> None:
    api = client(http_session, simulator)
    with pytest.raises(SerwerSmsMessageGoneError):
        await api.delete_message("0123456789")
    sent = (await api.send_sms([PHONE], text="x")).recipients[0].id
    with pytest.raises(SerwerSmsMessageGoneError):
        await api.delete_message(sent or "")
    with pytest.raises(ValueError, match="id"):
        await api.delete_message("")
    assert [r.fields["id"] for r in simulator.requests_to("messages/delete")] == ["0123456789", sent]
    assert len(simulator.sms) == 1


async def test_other_delete_errors_are_not_taken_for_already_gone(simulator, http_session) -> None:
    simulator.fail_next("messages/delete", Fault("error", code=1002))
    with pytest.raises(SerwerSmsApiError) as err:
        await client(http_session, simulator).delete_message("0123456789")
    assert not isinstance(err.value, SerwerSmsMessageGoneError)


async def test_the_simulator_deletes_a_scheduled_mms_by_unique_id(simulator, http_session, freezer) -> None:
    freezer.move_to("2026-11-25 12:00:00+00:00")
    reply = await gateway_call(
        http_session,
        simulator,
        "messages/send_mms",
        phone=[PHONE, "+48500600701"],
        title="t",
        text="x",
        date="2026-11-25 14:00:00",
        unique_id="hb42",
    )
    assert reply["queued"] == 2
    assert len(simulator.scheduled) == 2
    assert await gateway_call(http_session, simulator, "messages/delete", unique_id="hb42") == {
        "success": True
    }
    assert simulator.scheduled == []
    assert simulator.messages == []
    gone = await gateway_call(http_session, simulator, "messages/delete", unique_id="hb42")
    assert gone["error"]["code"] == 1004
    missing = await gateway_call(http_session, simulator, "messages/delete")
    assert missing["error"]["code"] == 2000


# --- credits per service ------------------------------------------------------------------------------


async def test_limits_list_every_service_and_count_down_per_type(simulator, http_session) -> None:
    api = client(http_session, simulator)
    await api.send_sms([PHONE, "+48500600701"], text="x")
    await api.send_voice([PHONE], text="x")
    limits = await api.account_limits()
    assert {limit.type: limit.raw_value for limit in limits} == {
        "eco": "998",
        "full": "1000",
        "voice": "99",
        "mms": "1000",
        "hlr": "100",
    }
    voice = limit_of(limits, "voice")
    assert voice is not None
    assert (voice.value, voice.available, voice.unlimited) == (99, True, False)
    assert limit_of(limits, "lookup") is None


async def test_credits_per_type_from_the_constructor(loopback_sockets) -> None:
    sim = SerwerSmsSimulator(token=TOKEN, credits={"mms": 5, "eco": None, "full": "no_limit", "voice": 1})
    await sim.start()
    try:
        async with aiohttp.ClientSession() as session:
            api = client(session, sim)
            limits = await api.account_limits()
            assert {limit.type: (limit.value, limit.unlimited, limit.available) for limit in limits} == {
                "eco": (None, True, True),
                "full": (None, True, True),
                "voice": (1, False, True),
                "mms": (5, False, True),
                "hlr": (None, False, False),  # absent: not available
            }
            await api.send_sms([PHONE] * 3, text="x")
            await api.send_sms([PHONE], text="x", sender="Dom")
            with pytest.raises(SerwerSmsApiError) as exhausted:
                await api.send_voice([PHONE, "+48500600701"], text="x")
            assert exhausted.value.code == 3000
            await api.send_voice([PHONE], text="x")
            assert sim.type_credits["voice"] == 0
            assert len(sim.calls) == 1
    finally:
        await sim.stop()


async def test_a_service_the_account_lacks_is_refused(loopback_sockets) -> None:
    sim = SerwerSmsSimulator(token=TOKEN, credits={"mms": "not_available", "eco": 10})
    await sim.start()
    try:
        async with aiohttp.ClientSession() as session:
            api = client(session, sim)
            mms = limit_of(await api.account_limits(), "mms")
            assert mms is not None
            assert (mms.raw_value, mms.available) == ("not_available", False)
            with pytest.raises(SerwerSmsApiError) as no_calls:
                await api.send_voice([PHONE], text="x", test=True)
            assert no_calls.value.code == 3001
            with pytest.raises(SerwerSmsApiError) as no_full:
                await api.send_sms([PHONE], text="x", sender="Dom")
            assert no_full.value.code == 3001
            await api.send_sms([PHONE], text="x")
            assert sim.type_credits["eco"] == 9
    finally:
        await sim.stop()


# --- what people and HA-side tests see ------------------------------------------------------------------


async def test_state_and_inbox_show_sms_calls_and_scheduled(simulator, http_session, freezer) -> None:
    freezer.move_to("2026-11-25 12:00:00+00:00")
    api = client(http_session, simulator)
    await api.send_sms([PHONE], text="Drzwi <otwarte>")
    await api.send_sms([PHONE], text="Pełne", sender="Dom")
    await api.send_voice([PHONE], text="Alarm w garażu")
    await api.send_sms([PHONE], text="later", date=dt_util.utcnow() + timedelta(hours=1))
    async with http_session.get(f"{simulator.url}_sim/state") as response:
        state = await response.json()
    assert [s["text"] for s in state["sms"]] == ["Drzwi <otwarte>", "Pełne", "later"]
    assert [c["text"] for c in state["calls"]] == ["Alarm w garażu"]
    assert [(s["channel"], s["scheduled"]) for s in state["scheduled"]] == [("sms", "2026-11-25 14:00:00")]
    assert state["sms"][2]["status"] == "saved"
    async with http_session.get(simulator.url) as response:
        page = await response.text()
    assert "Drzwi &lt;otwarte&gt;" in page
    assert "Alarm w garażu" in page
    # A reply button for each ECO SMS (two), none for the one with a sender name.
    assert page.count('action="/_sim/reply"') == 2
    assert f'value="{simulator.sms[0].id}"' in page
    assert f'value="{simulator.sms[1].id}"' not in page


async def test_sms_and_calls_count_towards_sends_until_outage(simulator, http_session) -> None:
    api = client(http_session, simulator, max_attempts=1)
    simulator.sends_until_outage = 2
    await api.send_sms([PHONE], text="one")
    assert simulator.online
    await api.send_voice([PHONE], text="two")
    assert not simulator.online
    [outcome] = await api.send_sms_batches([PHONE], text="three")
    assert isinstance(outcome.error, SerwerSmsNotReachedError)  # provably not sent: safe to send later
    assert [r.status for r in merge_batches([outcome]).recipients] == ["unsent"]
    await simulator.go_online()
    assert (await api.send_sms([PHONE], text="three")).queued == 1
    assert [m.text for m in simulator.sms] == ["one", "three"]
