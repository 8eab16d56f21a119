"""When the server pings and when it closes a silent session, beside Node's engine.io.

Each target is the conformance echo server (pingInterval 300 ms, pingTimeout 200 ms):
aiosocketio's built-in server, its ASGI app under uvicorn, and the npm engine.io package.
A raw WebSocket session opens, notes when the OPEN packet arrives, when the first PING
arrives, and (never answering) when the server closes the connection. Times are in
milliseconds from the OPEN packet; the spec's are 300 and 500.

Usage::

    python scripts/heartbeat_timing.py [--sessions 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import websockets  # noqa: E402

from tests.conformance.helpers import start_target  # noqa: E402


async def one_session(url: str) -> tuple[float, float]:
    async with websockets.connect(url) as ws:
        first = await ws.recv()
        t0 = time.monotonic()
        assert isinstance(first, str) and first.startswith("0"), first
        ping = await ws.recv()
        t_ping = time.monotonic()
        assert ping == "2", ping
        try:
            while True:
                await ws.recv()
        except websockets.ConnectionClosed:
            t_close = time.monotonic()
    return (t_ping - t0) * 1000, (t_close - t0) * 1000


async def measure(url: str, sessions: int) -> tuple[list[float], list[float]]:
    pings: list[float] = []
    closes: list[float] = []
    for _ in range(sessions):
        ping, close = await one_session(url)
        pings.append(ping)
        closes.append(close)
    return pings, closes


def describe(values: list[float]) -> str:
    return (
        f"min {min(values):6.1f}  median {statistics.median(values):6.1f}  max {max(values):6.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20)
    args = parser.parse_args()
    for frontend in ("native", "asgi", "node"):
        gen = start_target("engineio", frontend)
        target = next(gen)
        try:
            url = f"{target.ws}?EIO=4&transport=websocket"
            pings, closes = asyncio.run(measure(url, args.sessions))
        finally:
            gen.close()
        print(f"{frontend:7} ping at  {describe(pings)} ms (spec 300)")
        print(f"{frontend:7} close at {describe(closes)} ms (spec 500)")


if __name__ == "__main__":
    main()
