"""Run the simulator on its own: python -m serwersms_simulator --port 8124."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from .server import SerwerSmsSimulator


async def _serve(args: argparse.Namespace) -> None:
    simulator = SerwerSmsSimulator(
        token=args.token,
        username=args.username,
        password=args.password,
        credits=None if args.credits < 0 else args.credits,
        latency=args.latency_ms / 1000,
    )
    url = await simulator.start(args.host, args.port)
    print(f"SerwerSMS simulator on {url} (inbox: {url})", flush=True)
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
    parser.add_argument("--token", default="sim-token", help="accepted API token")
    parser.add_argument("--username", default="sim-user", help="accepted API user login")
    parser.add_argument("--password", default="sim-password", help="accepted API user password")
    parser.add_argument("--credits", type=int, default=1000, help="MMS credits; negative means no limit")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every API reply")
    asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()
