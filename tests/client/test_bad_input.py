"""Garbage from the server closes the connection cleanly; nothing raises into the caller."""

from __future__ import annotations

import random

from aiosocketio.client import Manager

NASTY: list[str | bytes] = [
    "",
    "9",
    "2",
    "2[",
    '2["connect"]',
    "2{}",
    "2[]",
    '51-["x",{"_placeholder":true,"num":9}]',
    b"\x00\x01",
    '3["no id"]',
    "0",
    '4"nope"',
    "1/unknown,",
    '2/nsp,["x"]',
    "6-" * 50,
    "\x00" * 10,
]


async def test_garbage_socket_io_packets_never_raise() -> None:
    rnd = random.Random(5)
    inputs: list[str | bytes] = [*NASTY]
    alphabet = '0123456789[]{}",-/:_placeholdernum'
    inputs += ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 30))) for _ in range(300)]
    inputs += [bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 20))) for _ in range(50)]
    reasons: list[str] = []
    for data in inputs:
        manager = Manager("http://127.0.0.1:9", auto_connect=False, reconnection=False)
        sock = manager.socket("/")
        sock._active = True  # as if connecting: it receives packets
        manager.on("close", lambda reason, _desc: reasons.append(reason))
        manager._on_data(data)  # must not raise
        manager.disconnect()
    assert "parse error" in reasons
