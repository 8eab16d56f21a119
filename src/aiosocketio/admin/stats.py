"""What ``server_stats`` reports: the aggregated events, read from the server's counters.

The dashboard's aggregated events (``rawConnection``, ``rawDisconnection``, ``packetsIn``,
``packetsOut``, ``bytesIn``, ``bytesOut``) are not counted here: they are the differences,
since the previous ``server_stats``, of the server's own counters (``io.counters``, a
:class:`~aiosocketio.frontends.stats.LimitStats` in its ``detailed`` mode), which the
Prometheus exporter (:mod:`aiosocketio.metrics`) reads too. So the dashboard and the
metrics count the same traffic once, the same way:

==================  ==========================================  ============================
aggregated event    ``io.counters``                             Prometheus (``socketio_``)
==================  ==========================================  ============================
rawConnection       ``connections_opened``                      ``connections_opened_total``
rawDisconnection    ``counts["connection_closed/<reason>"]``    ``connections_closed_total``
packetsIn / Out     ``packets_in`` / ``packets_out``            ``packets_received_total``...
bytesIn / Out       ``bytes_in`` / ``bytes_out``                ``bytes_received_total``...
==================  ==========================================  ============================

A packet is an Engine.IO message of the Socket.IO layer (a Socket.IO packet, or one of its
binary attachments; one per recipient of a broadcast), as the Node admin counts the
messages of the engine's sockets; a size is in characters of text and bytes of binary
(Node counts UTF-8 bytes: the two agree on ASCII). The Engine.IO probes of an upgrade are
not counted.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from aiosocketio.frontends.stats import CONNECTION_CLOSED, LimitStats

__all__ = ["CounterDeltas", "js_date"]


def js_date(when: float | None = None) -> str:
    """``when`` (seconds since the epoch, now by default) as JSON.stringify writes a Date."""
    moment = datetime.fromtimestamp(time.time() if when is None else when, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


_Key = tuple[str, str | None]
_CLOSED = CONNECTION_CLOSED + "/"


def _read(counters: LimitStats) -> dict[_Key, int]:
    """The server's counters now, by the dashboard's (type, sub-type)."""
    out: dict[_Key, int] = {
        ("rawConnection", None): counters.connections_opened,
        ("packetsIn", None): counters.packets_in,
        ("packetsOut", None): counters.packets_out,
        ("bytesIn", None): counters.bytes_in,
        ("bytesOut", None): counters.bytes_out,
    }
    for kind, count in list(counters.counts.items()):
        if kind.startswith(_CLOSED):
            out[("rawDisconnection", kind[len(_CLOSED) :])] = count
    return out


class CounterDeltas:
    """The aggregated events of ``server_stats``: what ``counters`` counted since the
    previous :meth:`take` (or since this object was made).

    Args:
        counters: the server's counters (``io.counters``), ``detailed`` on.
    """

    __slots__ = ("_counters", "_last")

    def __init__(self, counters: LimitStats) -> None:
        self._counters = counters
        self._last = _read(counters)

    def take(self, now: float | None = None) -> list[dict[str, Any]]:
        """The differences since the previous call, as @socket.io/admin-ui 0.5 reads them:
        ``{"timestamp": ms, "type": ..., "count": n}`` (with ``"subType"`` for
        ``rawDisconnection``: the reason), stamped with the second of ``now`` (seconds
        since the epoch, now by default), the types without news left out."""
        current = _read(self._counters)
        last = self._last
        self._last = current
        timestamp = int(time.time() if now is None else now) * 1000
        out: list[dict[str, Any]] = []
        for (kind, sub_type), count in current.items():
            delta = count - last.get((kind, sub_type), 0)
            if delta <= 0:
                continue
            item: dict[str, Any] = {"timestamp": timestamp, "type": kind, "count": delta}
            if sub_type is not None:
                item["subType"] = sub_type
            out.append(item)
        return out
