"""What ``server_stats`` reports: the aggregated events and the polling clients count.

:class:`EngineStats` listens to the engine's ``connection`` event and to the events of each
Engine.IO connection (``packet``, ``packet_create``, ``upgrade``, ``close``). These
listeners exist only once :func:`aiosocketio.admin.instrument` made one: a server that is
not instrumented pays nothing for them.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

__all__ = ["EngineStats", "EventBuffer", "js_date"]


def js_date(when: float | None = None) -> str:
    """``when`` (seconds since the epoch, now by default) as JSON.stringify writes a Date."""
    moment = datetime.fromtimestamp(time.time() if when is None else when, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class EventBuffer:
    """Counts per (second, type, sub-type), emptied at each ``server_stats``."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer: dict[tuple[int, str, str | None], int] = {}

    def push(self, kind: str, sub_type: str | None = None, count: int = 1) -> None:
        """Count ``count`` events of ``kind`` (and ``sub_type``) in the current second."""
        key = (int(time.time()) * 1000, kind, sub_type)
        self._buffer[key] = self._buffer.get(key, 0) + count

    def values_and_clear(self) -> list[dict[str, Any]]:
        """The counts as the dashboard reads them, ``subType`` only where there is one."""
        out: list[dict[str, Any]] = []
        for (timestamp, kind, sub_type), count in self._buffer.items():
            item: dict[str, Any] = {"timestamp": timestamp, "type": kind, "count": count}
            if sub_type is not None:
                item["subType"] = sub_type
            out.append(item)
        self._buffer.clear()
        return out


def _size(data: str | bytes | None) -> int:
    if data is None:
        return 0
    return len(data.encode()) if isinstance(data, str) else len(data)


class EngineStats:
    """The engine-level counters of one server (``rawConnection``, ``packetsIn``, ...)."""

    __slots__ = ("events", "polling_clients")

    def __init__(self) -> None:
        self.events = EventBuffer()
        self.polling_clients = 0

    def on_connection(self, conn: Any) -> None:
        """Follow a new Engine.IO connection (the engine's ``connection`` listener)."""
        events = self.events
        events.push("rawConnection")
        if conn.transport.name == "polling":
            self.polling_clients += 1
            counted = [True]

            def uncount(*_: Any) -> None:
                if counted[0]:
                    counted[0] = False
                    self.polling_clients -= 1

            conn.once("upgrade", uncount)
            conn.once("close", uncount)

        def packet_in(packet: Any) -> None:
            if packet.data:
                events.push("packetsIn")
                events.push("bytesIn", None, _size(packet.data))

        def packet_out(packet: Any) -> None:
            if packet.data:
                events.push("packetsOut")
                events.push("bytesOut", None, _size(packet.data))

        def closed(reason: str, *_: Any) -> None:
            events.push("rawDisconnection", reason)

        conn.on("packet", packet_in)
        conn.on("packet_create", packet_out)
        conn.on("close", closed)
