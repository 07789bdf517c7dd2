"""Run the simulator on its own: python -m serwersms_simulator --port 8124."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from pathlib import Path
import signal

from .server import DEFAULT_CREDITS, NO_ANSWER_NUMBER, NO_MMS_NUMBER, SerwerSmsSimulator


def _limit(value: str) -> tuple[str, int | str | None]:
    """`eco=500` → ("eco", 500); `voice=not_available`; `full=no_limit` (or a negative number)."""
    kind, _, raw = value.partition("=")
    raw = raw.strip()
    if raw in {"not_available", "no_limit"}:
        return kind.strip(), None if raw == "no_limit" else raw
    number = int(raw)
    return kind.strip(), None if number < 0 else number


def _undeliverable(value: str) -> tuple[str, str]:
    """`+48500600701=message_expired` → (number, reason); the reason defaults to `wrong_number`."""
    phone, _, reason = value.partition("=")
    return phone.strip(), reason.strip() or "wrong_number"


async def _serve(args: argparse.Namespace) -> None:
    credits: dict[str, int | str | None] = dict(DEFAULT_CREDITS)
    credits["mms"] = None if args.credits < 0 else args.credits
    credits.update(args.limit)
    simulator = SerwerSmsSimulator(
        token=args.token,
        username=args.username,
        password=args.password,
        credits=credits,
        latency=args.latency_ms / 1000,
        sent_delay=args.sent_after,
        delivery_delay=args.delivered_after,
        undeliverable=dict(args.undeliverable),
        no_mms_numbers=args.no_mms or (NO_MMS_NUMBER,),
        no_answer_numbers=args.no_answer or (NO_ANSWER_NUMBER,),
    )
    if args.camera:
        from .camera import add_demo_camera  # noqa: PLC0415 - needs Pillow, only for the demo

        add_demo_camera(simulator.app, args.camera)
    url = await simulator.start(args.host, args.port, control_port=args.control_port)
    print(f"SerwerSMS simulator on {url} (inbox: {url})", flush=True)
    if simulator.control_url:
        print(f"control port (stays up in an outage): {simulator.control_url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await simulator.stop()


def main() -> None:
    """Parse the command line and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m serwersms_simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8124)
    parser.add_argument(
        "--control-port",
        type=int,
        metavar="PORT",
        help="also serve /_sim/..., the inbox and the demo camera here, staying up while the gateway "
        "port is taken offline with POST /_sim/offline (the API answers on --port only)",
    )
    parser.add_argument("--token", default="sim-token", help="accepted API token")
    parser.add_argument("--username", default="sim-user", help="accepted API user login")
    parser.add_argument("--password", default="sim-password", help="accepted API user password")
    parser.add_argument("--credits", type=int, default=1000, help="MMS credits; negative means no limit")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every API reply")
    parser.add_argument(
        "--sent-after",
        type=float,
        default=0.5,
        metavar="SECONDS",
        help="seconds from queueing (or the scheduled time) until the report says `sent` (default 0.5)",
    )
    parser.add_argument(
        "--delivered-after",
        type=float,
        default=1.5,
        metavar="SECONDS",
        help="seconds from queueing until the final report: `delivered`, or `undelivered` for "
        "--undeliverable numbers (default 1.5)",
    )
    parser.add_argument(
        "--undeliverable",
        type=_undeliverable,
        action="append",
        default=[],
        metavar="PHONE[=REASON]",
        help="this number's MMS end `undelivered` with REASON (default wrong_number); repeatable",
    )
    parser.add_argument(
        "--limit",
        type=_limit,
        action="append",
        default=[],
        metavar="TYPE=VALUE",
        help="credits of eco, full, voice or hlr: a number, no_limit or not_available "
        f"(defaults: {', '.join(f'{k}={v}' for k, v in DEFAULT_CREDITS.items())}); repeatable",
    )
    parser.add_argument(
        "--no-mms",
        action="append",
        default=[],
        metavar="PHONE",
        help=f"this number's MMS end `undelivered` (unsupported_number), SMS and calls are delivered "
        f"(default {NO_MMS_NUMBER}); repeatable",
    )
    parser.add_argument(
        "--no-answer",
        action="append",
        default=[],
        metavar="PHONE",
        help="this number never picks up: calls end `undelivered` (missed_call) "
        f"(default {NO_ANSWER_NUMBER}); repeatable",
    )
    parser.add_argument(
        "--camera",
        type=Path,
        help="also serve a demo camera (/_sim/camera.jpg, /_sim/camera.mjpg) drawn over this picture",
    )
    # Outages and returns are logged: the demo's simulator.log tells when the gateway went down and up.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()
