"""Prepare a running demo Home Assistant through its HTTP APIs, the way the frontend does.

Logs in as the demo user, adds the SerwerSMS account (API token method, pointed at the simulator)
and two recipients through the normal config and subentry flows if they are not there yet, adds the
simulator's porch camera as an MJPEG camera (`camera.porch`), and keeps a long-lived access token for
command-line use. Prints the token file's path. With --press it presses the demo button and prints the
MMS the simulator received and the `serwersms_mms_delivery` events Home Assistant fired for it; then
takes the simulated gateway offline, sends a snapshot MMS that waits in the outbox and checks that it
goes out exactly once after the gateway is back (the outbox's 30-s retry, real time), and sends the
same MMS twice with a cooldown to show the second suppressed. Between the press and the outage it turns
lookback on for the porch camera in the options (3 s), waits 4 s and sends with `lookback: 3`: the GIF
starts before the call. Any mismatch exits non-zero.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
import itertools
from pathlib import Path
import secrets
import sys
from typing import Any

import aiohttp

CLIENT_ID = "http://127.0.0.1:8123/"
RECIPIENTS = [("Mom", "500 600 700"), ("Family", "500 600 701, 500 600 702")]
# The simulator's number whose phone takes no MMS (its MMS come back `undelivered`, `unsupported_number`).
GRANDPA = ("Grandpa", "500 600 796")
# An MMS's fallback: the first report poll 30 s after the send, the SMS's own report 30 s after that.
CHANNELS_TIMEOUT = 100.0
# The contract: the outbox notices the gateway's return within 10 s; room for that and the send.
DRAIN_TIMEOUT = 15.0


async def wait_until_up(session: aiohttp.ClientSession, base: str, timeout: float) -> None:
    """Wait for Home Assistant's web server (a public page: probing the API would count as a failed login)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            async with session.get(f"{base}/manifest.json") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        if loop.time() > deadline:
            sys.exit(f"Home Assistant did not come up at {base} within {timeout:.0f} s")
        await asyncio.sleep(1)


async def login(session: aiohttp.ClientSession, base: str, username: str, password: str) -> str:
    """The frontend's login flow: username/password → authorization code → access token."""
    async with session.post(
        f"{base}/auth/login_flow",
        json={"client_id": CLIENT_ID, "handler": ["homeassistant", None], "redirect_uri": CLIENT_ID},
    ) as response:
        flow = await response.json()
    async with session.post(
        f"{base}/auth/login_flow/{flow['flow_id']}",
        json={"client_id": CLIENT_ID, "username": username, "password": password},
    ) as response:
        result = await response.json()
    if result.get("type") != "create_entry":
        sys.exit(f"login as {username} failed: {result.get('errors')}")
    async with session.post(
        f"{base}/auth/token",
        data={"grant_type": "authorization_code", "code": result["result"], "client_id": CLIENT_ID},
    ) as response:
        token = await response.json()
    return str(token["access_token"])


async def flow_step(session: aiohttp.ClientSession, url: str, body: dict[str, object]) -> dict[str, object]:
    """POST one flow step and return the result."""
    async with session.post(url, json=body) as response:
        result: dict[str, object] = await response.json()
        if response.status >= 400:
            sys.exit(f"{url}: HTTP {response.status}: {result}")
        return result


async def ensure_account(session: aiohttp.ClientSession, base: str, api_token: str, api_url: str) -> str:
    """The SerwerSMS config entry id, creating the entry through the config flow when missing."""
    async with session.get(
        f"{base}/api/config/config_entries/entry", params={"domain": "serwersms"}
    ) as response:
        entries = await response.json()
    if entries:
        return str(entries[0]["entry_id"])
    flows = f"{base}/api/config/config_entries/flow"
    menu = await flow_step(session, flows, {"handler": "serwersms", "show_advanced_options": False})
    form = await flow_step(session, f"{flows}/{menu['flow_id']}", {"next_step_id": "token"})
    created = await flow_step(
        session, f"{flows}/{form['flow_id']}", {"api_token": api_token, "advanced": {"api_url": api_url}}
    )
    if created.get("type") != "create_entry":
        sys.exit(f"adding the account failed: {created}")
    entry = created["result"]
    assert isinstance(entry, dict)
    entry_id = str(entry["entry_id"])
    subflows = f"{base}/api/config/config_entries/subentries/flow"
    for name, phones in RECIPIENTS:
        form = await flow_step(session, subflows, {"handler": [entry_id, "recipient"]})
        done = await flow_step(session, f"{subflows}/{form['flow_id']}", {"name": name, "phone": phones})
        if done.get("type") != "create_entry":
            sys.exit(f"adding recipient {name} failed: {done}")
    return entry_id


async def ensure_porch_camera(session: aiohttp.ClientSession, base: str, simulator: str) -> None:
    """`camera.porch`: Home Assistant's MJPEG camera on the simulator's demo camera, added when missing."""
    async with session.get(f"{base}/api/config/config_entries/entry", params={"domain": "mjpeg"}) as response:
        if await response.json():
            return
    flows = f"{base}/api/config/config_entries/flow"
    form = await flow_step(session, flows, {"handler": "mjpeg", "show_advanced_options": False})
    created = await flow_step(
        session,
        f"{flows}/{form['flow_id']}",
        {
            "name": "Porch",
            "mjpeg_url": f"{simulator}_sim/camera.mjpg",
            "still_image_url": f"{simulator}_sim/camera.jpg",
            "verify_ssl": False,
        },
    )
    if created.get("type") != "create_entry":
        sys.exit(f"adding the porch camera failed: {created}")


async def websocket_calls(
    session: aiohttp.ClientSession, base: str, access_token: str, calls: list[dict[str, object]]
) -> list[Any]:
    """Run websocket API commands as the frontend does; the results, in order."""
    results: list[Any] = []
    async with session.ws_connect(f"{base.replace('http', 'ws', 1)}/api/websocket") as ws:
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": access_token})
        await ws.receive_json()
        for number, call in enumerate(calls, start=1):
            await ws.send_json({"id": number, **call})
            reply = await ws.receive_json()
            if not reply.get("success"):
                sys.exit(f"websocket {call['type']} failed: {reply.get('error')}")
            results.append(reply["result"])
    return results


async def long_lived_token(session: aiohttp.ClientSession, base: str, access_token: str) -> str:
    """A long-lived access token, made over the websocket API as the profile page does."""
    (token,) = await websocket_calls(
        session,
        base,
        access_token,
        [{"type": "auth/long_lived_access_token", "client_name": "scripts/develop", "lifespan": 3650}],
    )
    return str(token)


async def report_recipient_devices(
    session: aiohttp.ClientSession, base: str, access_token: str, entry_id: str
) -> None:
    """Print each recipient's device and entities; fail unless each has its own, under its subentry."""
    subentries, devices, entities = await websocket_calls(
        session,
        base,
        access_token,
        [
            {"type": "config_entries/subentries/list", "entry_id": entry_id},
            {"type": "config/device_registry/list"},
            {"type": "config/entity_registry/list"},
        ],
    )
    account = [d for d in devices if d["config_entry_id"] == entry_id and d["config_subentry_id"] is None]
    if len(account) != 1:
        sys.exit(f"expected one account device outside the recipients, found {len(account)}")
    print(f"Account device: {account[0]['name']}")
    for subentry in subentries:
        owned = [d for d in devices if d["config_subentry_id"] == subentry["subentry_id"]]
        if len(owned) != 1 or owned[0]["via_device_id"] != account[0]["id"]:
            sys.exit(f"recipient {subentry['title']}: expected its own device via the account, got {owned}")
        names = sorted(
            e["entity_id"]
            for e in entities
            if e["device_id"] == owned[0]["id"] and e["config_subentry_id"] == subentry["subentry_id"]
        )
        if not names:
            sys.exit(f"recipient {subentry['title']}: its device has no entities")
        print(f"  recipient {subentry['title']}: device {owned[0]['name']!r}, entities {', '.join(names)}")


async def token_works(session: aiohttp.ClientSession, base: str, token: str) -> bool:
    """Whether a stored token is still accepted."""
    async with session.get(f"{base}/api/", headers={"Authorization": f"Bearer {token}"}) as response:
        return response.status == 200


async def wait_until_ready(session: aiohttp.ClientSession, base: str, entity_id: str, timeout: float) -> None:
    """Wait until Home Assistant has started (automations arm then) and `entity_id` has a state."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        async with session.get(f"{base}/api/config") as response:
            running = response.status == 200 and (await response.json()).get("state") == "RUNNING"
        async with session.get(f"{base}/api/states/{entity_id}") as response:
            if running and response.status == 200:
                return
        await asyncio.sleep(0.5)
    sys.exit(f"Home Assistant did not finish starting with {entity_id} within {timeout:.0f} s")


async def delivery_events(
    session: aiohttp.ClientSession, base: str, access_token: str, event_type: str = "serwersms_mms_delivery"
) -> aiohttp.ClientWebSocketResponse:
    """A websocket subscribed to `event_type`, opened before the send that fires it."""
    ws = await session.ws_connect(f"{base.replace('http', 'ws', 1)}/api/websocket")
    await ws.receive_json()
    await ws.send_json({"type": "auth", "access_token": access_token})
    await ws.receive_json()
    await ws.send_json({"id": 1, "type": "subscribe_events", "event_type": event_type})
    await ws.receive_json()
    return ws


async def report_delivery(
    session: aiohttp.ClientSession,
    base: str,
    ws: aiohttp.ClientWebSocketResponse,
    message_ids: list[str],
    started: float,
    timeout: float,
) -> None:
    """Print each delivery event of the MMS just sent, and what the recipient's event entity shows."""
    loop = asyncio.get_running_loop()
    waiting = set(message_ids)
    deadline = loop.time() + timeout
    while waiting:
        try:
            message = await asyncio.wait_for(ws.receive_json(), max(0.1, deadline - loop.time()))
        except TimeoutError:
            sys.exit(f"no delivery event for {', '.join(sorted(waiting))} within {timeout:.0f} s")
        data = message.get("event", {}).get("data", {})
        if data.get("message_id") not in waiting:
            continue
        waiting.discard(data["message_id"])
        print(
            f"Delivery event {loop.time() - started:.2f} s after the button press: serwersms_mms_delivery "
            f"status={data['status']} phone={data['phone']} message_id={data['message_id']} "
            f"entity_id={data['entity_id']} reason={data['reason']} title={data['title']}"
        )
        if data["status"] != "delivered" or data["entity_id"] != "notify.family_mms":
            sys.exit(
                f"expected notify.family_mms's MMS delivered, got {data['status']} for {data['entity_id']}"
            )
    await ws.close()
    async with session.get(f"{base}/api/states/event.family_mms_delivery") as response:
        state = await response.json()
    attributes = state["attributes"]
    print(
        f"  event.family_mms_delivery: {attributes['event_type']} at {state['state']} "
        f"(phone {attributes['phone']}, message id {attributes['message_id']})"
    )
    if attributes["event_type"] != "delivered" or attributes["message_id"] not in message_ids:
        sys.exit("event.family_mms_delivery does not show the MMS just sent as delivered")


async def press_and_report(
    session: aiohttp.ClientSession, base: str, simulator: str, access_token: str, timeout: float
) -> None:
    """Press the demo button, wait for the MMS to reach the simulator, check and print it and its delivery."""
    from io import BytesIO  # noqa: PLC0415

    from PIL import Image, ImageChops, ImageSequence  # noqa: PLC0415

    family = {f"+48{digits.replace(' ', '')}" for digits in dict(RECIPIENTS)["Family"].split(", ")}
    ws = await delivery_events(session, base, access_token)
    async with session.get(f"{simulator}_sim/state") as response:
        before = len((await response.json())["messages"])
    loop = asyncio.get_running_loop()
    started = loop.time()
    await flow_step(
        session, f"{base}/api/services/input_button/press", {"entity_id": "input_button.send_snapshot"}
    )
    while True:
        async with session.get(f"{simulator}_sim/state") as response:
            state = await response.json()
        if len(state["messages"]) >= before + len(family):
            break
        if loop.time() - started > timeout:
            sys.exit(f"no MMS reached all {len(family)} Family numbers within {timeout:.0f} s")
        await asyncio.sleep(0.2)
    arrived = state["messages"][before:]
    files = {item["id"]: item for item in state["files"]}
    print(f"MMS received by the simulator {loop.time() - started:.2f} s after the button press:")
    print(f"  title:      {arrived[0]['title']}")
    print(f"  text:       {arrived[0]['text']}")
    phones, ids = ", ".join(m["phone"] for m in arrived), ", ".join(m["id"] for m in arrived)
    print(f"  recipients: {phones} (message ids {ids})")
    if {m["phone"] for m in arrived} != family or len(arrived) != len(family):
        sys.exit(f"expected one MMS to each of {sorted(family)}, got {phones}")
    if {m["title"] for m in arrived} != {"Front door"} or len({tuple(m["file_ids"]) for m in arrived}) != 1:
        sys.exit("the Family recipients did not get the same MMS titled 'Front door'")
    if len(arrived[0]["file_ids"]) != 1:
        sys.exit(f"expected the porch camera's GIF as one attachment, got {arrived[0]['file_ids']}")
    for file_id in arrived[0]["file_ids"]:
        async with session.get(f"{simulator}_sim/files/{file_id}") as response:
            content = await response.read()
        image = Image.open(BytesIO(content))
        info = files[file_id]
        frames = getattr(image, "n_frames", 1)
        moving = f", {frames} frames looping" if frames > 1 else ""
        print(
            f"  file {file_id}: {info['name']}, {info['content_type']}, {len(content)} bytes, "
            f"{image.width}x{image.height}{moving}, EXIF {'present' if image.getexif() else 'none'}"
        )
        if image.format != "GIF" or info["content_type"] != "image/gif" or frames != 3:
            sys.exit(f"the attachment is not a 3-frame GIF: {image.format}, {info['content_type']}, {frames}")
        if image.info.get("loop") != 0 or len(content) > 300 * 1024:
            sys.exit("the GIF does not loop, or it is over the 300 KB budget")
        pictures = [frame.convert("RGB") for frame in ImageSequence.Iterator(image)]
        if any(ImageChops.difference(a, b).getbbox() is None for a, b in itertools.pairwise(pictures)):
            sys.exit("two frames of the GIF are the same picture: nothing moved")
    print(f"  credits left on the simulated account: {state['credits']}")
    await report_delivery(session, base, ws, [m["id"] for m in arrived], started, timeout)


async def simulator_state(session: aiohttp.ClientSession, simulator: str) -> dict[str, Any]:
    """What the simulated gateway holds: its messages, files, requests and whether it is online."""
    async with session.get(f"{simulator}_sim/state") as response:
        state: dict[str, Any] = await response.json()
        return state


async def simulator_control(
    session: aiohttp.ClientSession, simulator: str, action: str, body: dict[str, object] | None = None
) -> None:
    """`POST /_sim/<action>` on the simulator's control port (it stays up while the gateway is down)."""
    async with session.post(f"{simulator}_sim/{action}", json=body or {}) as response:
        if response.status != 200:
            sys.exit(f"simulator /_sim/{action}: HTTP {response.status}: {await response.text()}")


def send_requests(state: dict[str, Any]) -> int:
    """How many `messages/send_mms` requests the simulator has answered so far."""
    return sum(1 for request in state["requests"] if request["endpoint"] == "messages/send_mms")


async def sensor_value(session: aiohttp.ClientSession, base: str, entity_id: str) -> int:
    """A counting sensor's state as a number; fails when it has none."""
    async with session.get(f"{base}/api/states/{entity_id}") as response:
        state = await response.json()
    try:
        return int(state["state"])
    except (KeyError, ValueError):
        sys.exit(f"{entity_id} has no count: {state}")


async def send_mms(session: aiohttp.ClientSession, base: str, data: dict[str, object]) -> dict[str, Any]:
    """`serwersms.send_mms` over the REST API with `return_response`: the response for the target entity."""
    async with session.post(f"{base}/api/services/serwersms/send_mms?return_response", json=data) as response:
        if response.status != 200:
            sys.exit(f"serwersms.send_mms: HTTP {response.status}: {await response.text()}")
        body = await response.json()
    reply: dict[str, Any] = body["service_response"][data["entity_id"]]
    return reply


async def account_sensors(
    session: aiohttp.ClientSession, base: str, access_token: str, entry_id: str
) -> dict[str, str]:
    """The account's `outbox` and `mms_sent_today` sensors: entity ids from the registry, names checked.

    Found by unique id on the account's device, never by a guessed entity id; their states must carry
    the translated names Home Assistant 2026.11 shows, and the Outbox must be a diagnostic sensor.
    """
    devices, entities = await websocket_calls(
        session,
        base,
        access_token,
        [{"type": "config/device_registry/list"}, {"type": "config/entity_registry/list"}],
    )
    (account,) = [d for d in devices if d["config_entry_id"] == entry_id and d["config_subentry_id"] is None]
    found: dict[str, str] = {}
    for key, name, category in (
        ("outbox", "Outbox", "diagnostic"),
        ("mms_sent_today", "Messages sent today", None),
        ("mms_credits", "MMS credits", None),
    ):
        matches = [
            e for e in entities if e["platform"] == "serwersms" and e["unique_id"] == f"{entry_id}_{key}"
        ]
        if len(matches) != 1 or matches[0]["device_id"] != account["id"]:
            sys.exit(f"expected one {name!r} sensor on the account's device, found {matches}")
        entity_id = matches[0]["entity_id"]
        async with session.get(f"{base}/api/states/{entity_id}") as response:
            state = await response.json() if response.status == 200 else {}
        friendly = state.get("attributes", {}).get("friendly_name")
        if friendly != f"{account['name']} {name}" or matches[0]["entity_category"] != category:
            sys.exit(
                f"{entity_id}: expected {account['name']} {name!r} ({category or 'no category'}), "
                f"got {friendly!r} ({matches[0]['entity_category']}); state {state}"
            )
        found[key] = entity_id
    print(
        f"Account sensors: {found['outbox']} (diagnostic), {found['mms_sent_today']}, {found['mms_credits']}"
    )
    return found


async def check_daily_room(
    session: aiohttp.ClientSession, base: str, entry_id: str, counter: str, needed: int
) -> None:
    """Fail early, and say why, when today's MMS count leaves no room for the demo's MMS.

    This configuration directory is kept between runs, and so is the day's count: with the default
    daily limit of 100 a few dozen demos in one day would otherwise end in a wait for an MMS the
    spending guard refused. The limit is read from the account's options flow, as the UI shows it.
    """
    flows = f"{base}/api/config/config_entries/options/flow"
    form = await flow_step(session, flows, {"handler": entry_id})
    async with session.delete(f"{flows}/{form['flow_id']}"):
        pass
    schema = form.get("data_schema")
    assert isinstance(schema, list)
    (field,) = [f for f in schema if f["name"] == "daily_limit"]
    limit = int(field["description"]["suggested_value"])
    counted = await sensor_value(session, base, counter)
    if limit and counted + needed > limit:
        sys.exit(
            f"{counter} shows {counted} of today's daily limit of {limit}: no room for the demo's {needed} "
            "MMS. Raise daily_limit in the account's options, or start afresh with scripts/develop --reset"
        )


async def wait_outbox_empty(session: aiohttp.ClientSession, base: str, outbox: str) -> None:
    """Let MMS that an interrupted earlier run left in the outbox go out before the demo's own.

    They are tried at start-up; a picture the simulator of that run had, and this one has not, costs one
    more retry (30 s), so the bound is two retries and some.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    left = await sensor_value(session, base, outbox)
    if not left:
        return
    while (waiting := await sensor_value(session, base, outbox)) > 0:
        if loop.time() - started > 2 * DRAIN_TIMEOUT:
            sys.exit(
                f"{outbox} still shows {waiting} MMS left by an earlier run after {2 * DRAIN_TIMEOUT:.0f} s"
            )
        await asyncio.sleep(0.5)
    print(f"{left} MMS left in the outbox by an earlier run went out within {loop.time() - started:.2f} s")


async def reload_while_offline(
    session: aiohttp.ClientSession, base: str, entry_id: str, credits_sensor: str
) -> None:
    """The account set up again while its gateway cannot be reached (as after a power cut): it loads."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with session.post(f"{base}/api/config/config_entries/entry/{entry_id}/reload") as response:
        if response.status != 200:
            sys.exit(f"reloading the account failed: HTTP {response.status}: {await response.text()}")
    async with session.get(
        f"{base}/api/config/config_entries/entry", params={"domain": "serwersms"}
    ) as response:
        (entry,) = [e for e in await response.json() if e["entry_id"] == entry_id]
    states = {}
    for entity_id in (credits_sensor, "notify.mom_mms"):
        async with session.get(f"{base}/api/states/{entity_id}") as response:
            states[entity_id] = (await response.json()).get("state") if response.status == 200 else None
    print(
        f"Account reloaded with the gateway offline in {loop.time() - started:.2f} s: {entry['state']}, "
        + ", ".join(f"{entity_id}={state}" for entity_id, state in states.items())
    )
    if entry["state"] != "loaded":
        sys.exit(f"the account did not load while its gateway was unreachable: {entry['state']} {entry}")
    if states[credits_sensor] != "unavailable" or states["notify.mom_mms"] in (None, "unavailable"):
        sys.exit(f"expected {credits_sensor} unavailable and notify.mom_mms available, got {states}")


async def prove_outbox(
    session: aiohttp.ClientSession,
    base: str,
    simulator: str,
    access_token: str,
    entry_id: str,
    sensors: dict[str, str],
) -> None:
    """An outage: a snapshot MMS is deferred, waits in the Outbox, and goes out once when it is over."""
    loop = asyncio.get_running_loop()
    mom = f"+48{dict(RECIPIENTS)['Mom'].replace(' ', '')}"
    text = f"Sent while the gateway was down (demo run {secrets.token_hex(3)})"
    outbox, counter = sensors["outbox"], sensors["mms_sent_today"]
    waiting_before = await sensor_value(session, base, outbox)
    counted_before = await sensor_value(session, base, counter)
    # Bounded, so the gateway comes back by itself should this script die before /_sim/online.
    await simulator_control(session, simulator, "offline", {"seconds": 120})
    if (await simulator_state(session, simulator))["online"]:
        sys.exit("the simulator's gateway is still online after POST /_sim/offline")
    await reload_while_offline(session, base, entry_id, sensors["mms_credits"])
    sent_events = await delivery_events(session, base, access_token, "serwersms_mms_sent")
    started = loop.time()
    # Stamped with the time: a picture of its own, never one a simulator of an earlier run was given.
    call = {"entity_id": "notify.mom_mms", "title": "Outbox", "message": text, "camera": "camera.porch"}
    reply = await send_mms(session, base, call | {"overlay": True})
    waiting = await sensor_value(session, base, outbox)
    counted = await sensor_value(session, base, counter)
    print(
        f"Outage: serwersms.send_mms to notify.mom_mms with a porch snapshot returned in "
        f"{loop.time() - started:.2f} s: deferred={reply.get('deferred')} queued={reply.get('queued')} "
        f"recipients={reply.get('recipients')}; {outbox}={waiting}, {counter}={counted}"
    )
    if reply.get("deferred") != 1 or reply.get("queued") != 0:
        sys.exit(f"expected the MMS deferred (deferred 1, queued 0), got {reply}")
    if reply.get("recipients") != [{"phone": mom, "status": "deferred"}]:
        sys.exit(f"expected Mom's number with status deferred, got {reply.get('recipients')}")
    if waiting != waiting_before + 1:
        sys.exit(f"expected {outbox} to count {waiting_before + 1} waiting MMS, it shows {waiting}")
    if counted != counted_before + 1:
        sys.exit(f"expected {counter} to count the deferred MMS ({counted_before + 1}), it shows {counted}")
    state = await simulator_state(session, simulator)
    if any(m["text"] == text for m in state["messages"]):
        sys.exit("the simulator received the MMS although its gateway was offline")
    sends_before = send_requests(state)

    await simulator_control(session, simulator, "online")
    back = loop.time()
    while True:
        state = await simulator_state(session, simulator)
        arrived = [m for m in state["messages"] if m["text"] == text]
        waiting = await sensor_value(session, base, outbox)
        if len(arrived) > 1:
            sys.exit(f"the deferred MMS reached the simulator {len(arrived)} times")
        if arrived and waiting == 0:
            break
        if loop.time() - back > DRAIN_TIMEOUT:
            sys.exit(
                f"the outbox did not drain within {DRAIN_TIMEOUT:.0f} s of the gateway's return: "
                f"{len(arrived)} MMS at the simulator, {outbox}={waiting}"
            )
        await asyncio.sleep(0.5)
    drained = loop.time() - back
    (message,) = arrived
    files = {item["id"]: item for item in state["files"]}
    types = [files[file_id]["content_type"] for file_id in message["file_ids"]]
    sends = send_requests(state) - sends_before
    print(
        f"Gateway back; the outbox sent the MMS {drained:.2f} s later: phone={message['phone']} "
        f"title={message['title']} attachments={types} send requests={sends}; {outbox}={waiting}"
    )
    if message["phone"] != mom or message["title"] != "Outbox" or types != ["image/jpeg"]:
        sys.exit(f"expected Mom's MMS titled 'Outbox' with the porch snapshot, got {message} ({types})")
    if sends != 1:
        sys.exit(f"expected one send request to the gateway after its return, got {sends}")
    event = await next_event(sent_events, lambda data: data.get("deferred") is True, 10)
    print(
        f"  serwersms_mms_sent: deferred={event['deferred']} queued={event['queued']} "
        f"recipients={[(r['phone'], r['status']) for r in event['recipients']]}"
    )
    if event["queued"] != 1 or [r["phone"] for r in event["recipients"]] != [mom]:
        sys.exit(f"expected serwersms_mms_sent for Mom's deferred MMS, got {event}")
    counted = await sensor_value(session, base, counter)
    print(f"  {counter}={counted} (counted once: when it was deferred)")
    if counted != counted_before + 1:
        sys.exit(f"expected {counter} to stay at {counted_before + 1} after the drain, it shows {counted}")
    # The account loaded while the gateway was down: its credits are asked for once the MMS got through.
    credits_sensor = sensors["mms_credits"]
    while True:
        async with session.get(f"{base}/api/states/{credits_sensor}") as response:
            credits_state = (await response.json()).get("state")
        if credits_state not in (None, "unavailable"):
            break
        if loop.time() - back > DRAIN_TIMEOUT:
            sys.exit(f"{credits_sensor} still unavailable {DRAIN_TIMEOUT:.0f} s after the gateway's return")
        await asyncio.sleep(0.5)
    print(
        f"  {credits_sensor}={credits_state} {loop.time() - back:.2f} s after the gateway's return "
        "(unavailable while it was down)"
    )


async def next_event(
    ws: aiohttp.ClientWebSocketResponse, wanted: Callable[[dict[str, Any]], bool], timeout: float
) -> dict[str, Any]:
    """The data of the next event on `ws` that `wanted` accepts; closes the websocket."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while True:
            try:
                message = await asyncio.wait_for(ws.receive_json(), max(0.1, deadline - loop.time()))
            except TimeoutError:
                sys.exit(f"no matching event within {timeout:.0f} s")
            data: dict[str, Any] = message.get("event", {}).get("data", {})
            if wanted(data):
                return data
    finally:
        await ws.close()


async def options_form(
    session: aiohttp.ClientSession, base: str, entry_id: str
) -> tuple[str, dict[str, Any]]:
    """Open the account's options flow: its id and the values the form suggests (what is stored)."""
    form = await flow_step(session, f"{base}/api/config/config_entries/options/flow", {"handler": entry_id})
    schema = form.get("data_schema")
    assert isinstance(schema, list)
    values = {
        f["name"]: f["description"]["suggested_value"]
        for f in schema
        if f.get("description", {}).get("suggested_value") not in (None, "")
    }
    return str(form["flow_id"]), values


async def set_lookback(session: aiohttp.ClientSession, base: str, entry_id: str, seconds: int) -> None:
    """Lookback for the porch camera through the options flow, as the UI sets it (0: off)."""
    flow_id, values = await options_form(session, base, entry_id)
    values |= {"lookback_cameras": ["camera.porch"] if seconds else [], "lookback_seconds": seconds}
    result = await flow_step(session, f"{base}/api/config/config_entries/options/flow/{flow_id}", values)
    if result.get("type") != "create_entry":
        sys.exit(f"the options flow refused lookback: {result}")


async def prove_lookback(session: aiohttp.ClientSession, base: str, entry_id: str) -> None:
    """The options turn lookback on for the porch; 4 s later a `lookback: 3` GIF starts before the call."""
    from datetime import UTC, datetime  # noqa: PLC0415

    await set_lookback(session, base, entry_id, 3)
    try:
        await asyncio.sleep(4)  # the buffer fills, one frame a second
        pressed = datetime.now(UTC)
        reply = await send_mms(
            session,
            base,
            {
                "entity_id": "notify.mom_mms",
                "title": "Lookback",
                "camera": "camera.porch",
                "lookback": 3,
                "overlay": True,
            },
        )
    finally:
        await set_lookback(session, base, entry_id, 0)  # off again: no snapshots while nothing needs them
    used = reply.get("lookback", {}).get("camera.porch", {})
    since = datetime.fromisoformat(used["since"]) if used.get("since") else None
    age = (pressed - since).total_seconds() if since else 0.0
    print(
        f"Lookback 3 s on camera.porch (options: lookback_cameras [camera.porch], lookback_seconds 3), "
        f"called 4 s later: queued={reply.get('queued')}, frames={reply.get('frames')}, "
        f"lookback={reply.get('lookback')}; the GIF's first frame was taken {age:.1f} s before the call "
        f"({since.isoformat(timespec='milliseconds') if since else '-'} vs "
        f"{pressed.astimezone(since.tzinfo if since else UTC).isoformat(timespec='milliseconds')})"
    )
    if reply.get("queued") != 1 or used.get("frames") != 3 or age < 2.5:
        sys.exit(f"expected a GIF starting with 3 buffered frames, the first >= 2.5 s old: {reply}")
    if reply.get("frames") != {"camera.porch": 4}:
        sys.exit(f"expected 3 buffered + 1 live frame in the GIF, got {reply.get('frames')}")


async def prove_cooldown(
    session: aiohttp.ClientSession, base: str, simulator: str, sensors: dict[str, str]
) -> None:
    """The same call twice with `cooldown: 600`: the second is suppressed and makes no request at all."""
    loop = asyncio.get_running_loop()
    run = secrets.token_hex(3)
    text = f"Motion at the porch (demo run {run})"
    call = {
        "entity_id": "notify.mom_mms",
        "title": "Motion",
        "message": text,
        "cooldown": 600,
        "tag": f"demo-motion-{run}",  # a new tag each run: this .config remembers earlier runs' cooldowns
    }
    counter = sensors["mms_sent_today"]
    counted_before = await sensor_value(session, base, counter)
    started = loop.time()
    first = await send_mms(session, base, call)
    sends_between = send_requests(await simulator_state(session, simulator))
    second = await send_mms(session, base, call)
    state = await simulator_state(session, simulator)
    arrived = [m for m in state["messages"] if m["text"] == text]
    sends = send_requests(state) - sends_between
    counted = await sensor_value(session, base, counter)
    print(
        f"Cooldown 600 s, the same call twice in {loop.time() - started:.2f} s: "
        f"first queued={first.get('queued')}, second suppressed={second.get('suppressed')} "
        f"queued={second.get('queued')}; the simulator got {len(arrived)} MMS, and {sends} send "
        f"requests after the second call; {counter}={counted}"
    )
    if first.get("queued") != 1 or first.get("suppressed"):
        sys.exit(f"expected the first call queued for Mom, got {first}")
    if second != {"suppressed": True, "queued": 0, "unsent": 0, "recipients": [], "files": []}:
        sys.exit(f"expected the second call suppressed by the cooldown, got {second}")
    if len(arrived) != 1 or sends != 0:
        sys.exit(f"expected one MMS and no request for the suppressed call, got {len(arrived)} and {sends}")
    if counted != counted_before + 1:
        sys.exit(
            f"expected {counter} to count the first call only ({counted_before + 1}), it shows {counted}"
        )


async def ensure_recipient(
    session: aiohttp.ClientSession, base: str, entry_id: str, name: str, phones: str, timeout: float
) -> str:
    """The notify entity of recipient `name`, added through the subentry flow when missing."""
    entity_id = f"notify.{name.lower()}_mms"
    async with session.get(f"{base}/api/states/{entity_id}") as response:
        if response.status == 200:
            return entity_id
    subflows = f"{base}/api/config/config_entries/subentries/flow"
    form = await flow_step(session, subflows, {"handler": [entry_id, "recipient"]})
    done = await flow_step(session, f"{subflows}/{form['flow_id']}", {"name": name, "phone": phones})
    if done.get("type") != "create_entry":
        sys.exit(f"adding recipient {name} failed: {done}")
    await wait_until_ready(session, base, entity_id, timeout)  # the account reloads with its new recipient
    return entity_id


async def call_action(
    session: aiohttp.ClientSession, base: str, service: str, data: dict[str, object]
) -> dict[str, Any]:
    """`serwersms.<service>` over the REST API with `return_response`: the target entity's response."""
    url = f"{base}/api/services/serwersms/{service}?return_response"
    async with session.post(url, json=data) as response:
        if response.status != 200:
            sys.exit(f"serwersms.{service}: HTTP {response.status}: {await response.text()}")
        body = await response.json()
    reply: dict[str, Any] = body["service_response"][data["entity_id"]]
    return reply


async def prove_channels(
    session: aiohttp.ClientSession, base: str, simulator: str, access_token: str, grandpa: str
) -> None:
    """An MMS to a phone that takes none, followed by its SMS fallback; and a call to Mom, delivered."""
    loop = asyncio.get_running_loop()
    run = secrets.token_hex(3)
    ws = await delivery_events(session, base, access_token)
    state = await simulator_state(session, simulator)
    sms_before, calls_before = len(state["sms"]), len(state["calls"])
    started = loop.time()
    mms = await call_action(
        session,
        base,
        "send_mms",
        {
            "entity_id": grandpa,
            "title": "Front door",
            "message": f"Someone is at the door (demo run {run})",
            "fallback": "sms",
            "fallback_after": 60,
        },
    )
    call = await call_action(
        session, base, "call", {"entity_id": "notify.mom_mms", "message": f"Alarm at home, demo run {run}."}
    )
    print(
        f"Channels: an MMS to {grandpa} (its phone takes no MMS) with fallback sms: queued={mms['queued']}; "
        f"serwersms.call to notify.mom_mms: queued={call['queued']}"
    )
    ids = {mms["recipients"][0].get("id"), call["recipients"][0].get("id")}
    if mms["queued"] != 1 or call["queued"] != 1:
        sys.exit(f"expected the MMS and the call queued, got {mms} and {call}")
    wanted = {("mms", "undelivered", False), ("sms", "delivered", True), ("call", "delivered", False)}
    seen: set[tuple[str, str, bool]] = set()
    deadline = started + CHANNELS_TIMEOUT
    try:
        while seen != wanted:
            try:
                message = await asyncio.wait_for(ws.receive_json(), max(0.1, deadline - loop.time()))
            except TimeoutError:
                sys.exit(f"within {CHANNELS_TIMEOUT:.0f} s only these delivery events came: {sorted(seen)}")
            data = message.get("event", {}).get("data", {})
            ours = data.get("message_id") in ids or (
                data.get("fallback") and data.get("entity_id") == grandpa
            )
            if not ours:
                continue
            if data.get("fallback"):
                ids.add(data["message_id"])
            seen.add((data["channel"], data["status"], bool(data["fallback"])))
            print(
                f"  {loop.time() - started:5.2f} s: serwersms_mms_delivery channel={data['channel']} "
                f"status={data['status']} reason={data['reason']} fallback={data['fallback']} "
                f"entity_id={data['entity_id']}"
            )
    finally:
        await ws.close()
    state = await simulator_state(session, simulator)
    sms = state["sms"][sms_before:]
    calls = state["calls"][calls_before:]
    print(f"  the simulator got {len(sms)} SMS: {[(m['phone'], m['text']) for m in sms]}")
    print(f"  and {len(calls)} call: {[(m['phone'], m['text']) for m in calls]}")
    expected_text = f"Front door: Someone is at the door (demo run {run})"
    if [m["text"] for m in sms] != [expected_text] or sms[0]["phone"] != "+48500600796":
        sys.exit(f"expected one fallback SMS to Grandpa saying {expected_text!r}, got {sms}")
    if len(calls) != 1 or calls[0]["phone"] != "+48500600700":
        sys.exit(f"expected one call to Mom, got {calls}")


async def prove_alarm(session: aiohttp.ClientSession, base: str, simulator: str) -> None:
    """An alarm: MMS + instruction SMS to Mom; her reply acknowledges it; the call step never goes out."""
    loop = asyncio.get_running_loop()
    title = f"Demo alarm {secrets.token_hex(3)}"
    data = {
        "title": title,
        "message": "The porch camera saw someone.",
        "camera": "camera.porch",
        "steps": [
            {"recipients": ["notify.mom_mms"], "channel": "mms", "wait": 30},
            {"recipients": ["notify.family_mms"], "channel": "call", "wait": 30},
        ],
    }
    started = loop.time()
    url = f"{base}/api/services/serwersms/raise_alarm?return_response"
    async with session.post(url, json=data) as response:
        if response.status != 200:
            sys.exit(f"serwersms.raise_alarm: HTTP {response.status}: {await response.text()}")
        alarm_id = (await response.json())["service_response"]["alarm_id"]
    instruction = f"Alarm: {title}. Reply to this SMS to acknowledge."
    while not (
        sms := [m for m in (await simulator_state(session, simulator))["sms"] if m["text"] == instruction]
    ):
        if loop.time() - started > 20:
            sys.exit("no instruction SMS within 20 s of serwersms.raise_alarm")
        await asyncio.sleep(0.5)
    calls_before = len((await simulator_state(session, simulator))["calls"])
    reply = {"phone": "+48500600700", "text": "On my way", "message_id": sms[0]["id"]}
    await simulator_control(session, simulator, "reply", reply)
    replied = loop.time()
    while True:
        async with session.get(f"{base}/api/states/event.serwersms_alarm") as response:
            attributes = (await response.json()).get("attributes", {})
        if attributes.get("alarm_id") == alarm_id and attributes.get("event_type") == "acknowledged":
            break
        if loop.time() - replied > 15:
            sys.exit(f"alarm {alarm_id} not acknowledged within 15 s of the reply: {attributes}")
        await asyncio.sleep(0.5)
    latency = loop.time() - replied
    await asyncio.sleep(max(0.0, started + 35 - loop.time()))  # past step 2's deadline
    calls = len((await simulator_state(session, simulator))["calls"]) - calls_before
    print(
        f"Alarm {alarm_id}: MMS + instruction SMS to Mom; her reply acknowledged it in {latency:.1f} s "
        f"(by={attributes.get('by')}, via={attributes.get('via')}); calls after the ack: {calls}"
    )
    if attributes.get("by") != "Mom" or attributes.get("via") != "reply" or calls != 0:
        sys.exit(
            f"expected Mom's reply to stop the ladder before its call step, got {attributes}, {calls} calls"
        )


async def main() -> None:
    """Bootstrap and report."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="http://127.0.0.1:8123")
    parser.add_argument("--user", default="dev")
    parser.add_argument("--password", default="dev")
    parser.add_argument("--api-token", required=True)
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--token-file", required=True, type=Path)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--simulator", default="http://127.0.0.1:8124/")
    parser.add_argument("--press", action="store_true", help="press the demo button and report the MMS")
    args = parser.parse_args()
    async with aiohttp.ClientSession() as session:
        await wait_until_up(session, args.base, args.timeout)
        access = await login(session, args.base, args.user, args.password)
        session.headers["Authorization"] = f"Bearer {access}"
        entry_id = await ensure_account(session, args.base, args.api_token, args.api_url)
        await ensure_porch_camera(session, args.base, args.simulator)
        stored = args.token_file.read_text().strip() if args.token_file.exists() else ""
        if not stored or not await token_works(session, args.base, stored):
            args.token_file.write_text(await long_lived_token(session, args.base, access) + "\n")
            args.token_file.chmod(0o600)
        await wait_until_ready(session, args.base, "notify.family_mms", args.timeout)
        await wait_until_ready(session, args.base, "camera.porch", args.timeout)
        print(f"SerwerSMS entry {entry_id} ready; API token in {args.token_file}", flush=True)
        await report_recipient_devices(session, args.base, access, entry_id)
        if args.press:
            sensors = await account_sensors(session, args.base, access, entry_id)
            family = len(dict(RECIPIENTS)["Family"].split(", "))
            # The button's MMS to Family; to Mom a lookback MMS, one deferred, one (not two) behind a
            # cooldown; the channels' MMS, its fallback SMS and a call; the alarm's MMS and its SMS.
            await check_daily_room(session, args.base, entry_id, sensors["mms_sent_today"], family + 8)
            await wait_outbox_empty(session, args.base, sensors["outbox"])
            await press_and_report(session, args.base, args.simulator, access, 60)
            await prove_lookback(session, args.base, entry_id)
            await prove_outbox(session, args.base, args.simulator, access, entry_id, sensors)
            await prove_cooldown(session, args.base, args.simulator, sensors)
            grandpa = await ensure_recipient(session, args.base, entry_id, *GRANDPA, args.timeout)
            await prove_channels(session, args.base, args.simulator, access, grandpa)
            await prove_alarm(session, args.base, args.simulator)


if __name__ == "__main__":
    asyncio.run(main())
