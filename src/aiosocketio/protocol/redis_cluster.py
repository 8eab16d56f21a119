"""Redis Cluster's routing facts, sans-I/O: key slots, the slot map, redirections.

A Redis Cluster splits the key space into 16384 slots; each master owns some of them. A
sharded channel (SPUBLISH/SSUBSCRIBE) lives in the slot of its name, so it must be used on
the node that owns that slot. This module computes a name's slot (CRC16/XMODEM modulo
16384, hashing only the ``{hash tag}`` when the name has one), reads the owners from a
``CLUSTER SLOTS`` reply into a :class:`SlotMap`, and parses the ``MOVED``/``ASK`` errors
that tell a client a slot lives elsewhere.

No I/O here: :mod:`aiosocketio.adapters.redis_cluster` owns the connections.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

from aiosocketio.exceptions import RemoteProtocolError

__all__ = ["SLOTS", "Address", "Redirect", "SlotMap", "key_slot", "parse_redirect"]

SLOTS = 16384
"""The number of hash slots of a Redis Cluster."""

Address = tuple[str, int]
"""A node's ``(host, port)``."""


def _crc16_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return table


_TABLE = _crc16_table()


def _crc16(data: bytes) -> int:
    crc = 0
    table = _TABLE
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ table[((crc >> 8) ^ byte) & 0xFF]
    return crc


def key_slot(key: str | bytes) -> int:
    """The hash slot of a key or sharded channel name (hash tags included).

    When the name holds ``{...}`` with at least one character between the first ``{`` and
    the next ``}``, only those characters are hashed.
    """
    data = key.encode() if isinstance(key, str) else key
    start = data.find(b"{")
    if start >= 0:
        end = data.find(b"}", start + 1)
        if end > start + 1:
            data = data[start + 1 : end]
    return _crc16(data) % SLOTS


@dataclass(frozen=True, slots=True)
class Redirect:
    """A ``MOVED`` or ``ASK`` error: ``slot`` is (for ``ASK``: for now) at ``address``."""

    ask: bool
    slot: int
    address: Address


def parse_redirect(error: str) -> Redirect | None:
    """The redirection an error reply carries (``MOVED 3999 127.0.0.1:6381``), or None."""
    parts = error.split()
    if len(parts) != 3 or parts[0] not in ("MOVED", "ASK"):
        return None
    host, sep, port = parts[2].rpartition(":")
    try:
        slot = int(parts[1])
        number = int(port)
    except ValueError:
        return None
    if not sep or not 0 <= slot < SLOTS:
        return None
    return Redirect(parts[0] == "ASK", slot, (host, number))


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


class SlotMap:
    """Which master owns each slot (and the replicas of each master).

    Built from a ``CLUSTER SLOTS`` reply with :meth:`from_slots_reply`; :meth:`move` records
    what a ``MOVED`` error taught.

    Attributes:
        masters: the masters, in the order of the reply.
        replicas: the replicas of each master.
    """

    __slots__ = ("_owners", "_starts", "masters", "replicas")

    def __init__(self, ranges: list[tuple[int, int, Address]] | None = None) -> None:
        self._starts: list[int] = []
        self._owners: list[tuple[int, Address]] = []  # (end, owner), in the order of _starts
        self.masters: list[Address] = []
        self.replicas: dict[Address, list[Address]] = {}
        self._load(ranges or [])

    def _load(self, ranges: list[tuple[int, int, Address]]) -> None:
        self._starts, self._owners, self.masters = [], [], []
        for start, end, owner in sorted(ranges):
            self._add(start, end, owner)
        self.replicas = {m: self.replicas.get(m, []) for m in self.masters}

    def _add(self, start: int, end: int, owner: Address) -> None:
        self._starts.append(start)
        self._owners.append((end, owner))
        if owner not in self.masters:
            self.masters.append(owner)

    @classmethod
    def from_slots_reply(cls, reply: Any, default_host: str) -> SlotMap:
        """Read a ``CLUSTER SLOTS`` reply.

        Each entry is ``[start, end, [host, port, id...], replicas...]``; an empty host (a
        node that does not know its address) means the node that answered, ``default_host``.

        Raises:
            RemoteProtocolError: The reply does not have that shape.
        """
        if not isinstance(reply, list):
            raise RemoteProtocolError(f"unexpected CLUSTER SLOTS reply: {reply!r}")
        ranges: list[tuple[int, int, Address]] = []
        replicas: dict[Address, list[Address]] = {}
        try:
            for entry in reply:
                start, end = int(entry[0]), int(entry[1])
                nodes = [
                    (_text(node[0]) or default_host, int(node[1]))
                    for node in entry[2:]
                    if isinstance(node, list) and len(node) >= 2
                ]
                if not nodes or not 0 <= start <= end < SLOTS:
                    raise ValueError(entry)
                ranges.append((start, end, nodes[0]))
                for replica in nodes[1:]:
                    if replica not in replicas.setdefault(nodes[0], []):
                        replicas[nodes[0]].append(replica)
        except (TypeError, ValueError, IndexError) as exc:
            raise RemoteProtocolError(f"unexpected CLUSTER SLOTS entry: {exc}") from exc
        slot_map = cls(ranges)
        for master, nodes in replicas.items():
            slot_map.replicas[master] = nodes
        return slot_map

    def owner(self, slot: int) -> Address | None:
        """The master that owns ``slot`` (None: no node serves it)."""
        index = bisect.bisect_right(self._starts, slot) - 1
        if index < 0:
            return None
        end, owner = self._owners[index]
        return owner if slot <= end else None

    def owner_of(self, key: str | bytes) -> Address | None:
        """The master that owns the slot of ``key``."""
        return self.owner(key_slot(key))

    def move(self, slot: int, address: Address) -> None:
        """Record that ``slot`` now lives at ``address`` (a ``MOVED`` error said so)."""
        ranges: list[tuple[int, int, Address]] = []
        for start, (end, owner) in zip(self._starts, self._owners, strict=True):
            if start <= slot <= end:
                if start < slot:
                    ranges.append((start, slot - 1, owner))
                if slot < end:
                    ranges.append((slot + 1, end, owner))
            else:
                ranges.append((start, end, owner))
        ranges.append((slot, slot, address))
        self._load(ranges)

    @property
    def covered(self) -> int:
        """How many slots have an owner (16384 when the cluster is whole)."""
        pairs = zip(self._starts, self._owners, strict=True)
        return sum(end - start + 1 for start, (end, _) in pairs)
