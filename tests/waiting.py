"""Waiting for something that happens over real loopback I/O while Home Assistant's clock stands still.

`hass.async_block_till_done` cannot do it when a run waits on the frozen clock (an automation's
`wait_for_trigger`, a burst's next frame): it would wait for that run forever. So wait on the thing
that says it happened — a request reaching the simulator, an event on the bus — never on a poll of
the wall clock.
"""

from __future__ import annotations

import asyncio

from homeassistant.core import Event, HomeAssistant, callback

from serwersms_simulator import RecordedRequest, SerwerSmsSimulator


def request_arrives(simulator: SerwerSmsSimulator, endpoint: str) -> asyncio.Event:
    """An event set when the next request to `endpoint` reaches the simulator, before it is answered."""
    arrived = asyncio.Event()
    before = simulator.on_request

    def on_request(request: RecordedRequest) -> None:
        if before is not None:
            before(request)
        if request.endpoint == endpoint:
            arrived.set()

    simulator.on_request = on_request
    return arrived


def bus_event(hass: HomeAssistant, event_type: str, count: int = 1) -> asyncio.Future[list[Event]]:
    """A future done once `event_type` has been fired `count` more times: those events."""
    done: asyncio.Future[list[Event]] = hass.loop.create_future()
    seen: list[Event] = []

    @callback
    def fired(event: Event) -> None:
        seen.append(event)
        if len(seen) == count and not done.done():
            done.set_result(list(seen))

    unsubscribe = hass.bus.async_listen(event_type, fired)
    done.add_done_callback(lambda _: unsubscribe())
    return done
