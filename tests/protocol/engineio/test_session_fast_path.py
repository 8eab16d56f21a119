"""The session's fast entry for a WebSocket message equals its general path.

``EngineSession.receive_data`` hands a MESSAGE straight back instead of recording an
event. Two sessions are driven through the same random steps (messages of every kind,
garbage, timer firings, sends, server closes, ``record_packets`` on and off): one takes
each WebSocket message through ``receive_data``, the other through
``receive_packet(decode_packet(...))``. What each reports (the handed-back messages in
their place among the events), what each has to send, their deadlines and their state
stay the same.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiosocketio.exceptions import RemoteProtocolError
from aiosocketio.protocol.engineio.events import MessageReceived, ServerEvent
from aiosocketio.protocol.engineio.options import EngineOptions
from aiosocketio.protocol.engineio.packets import Packet, PacketType, decode_packet
from aiosocketio.protocol.engineio.session import EngineSession

# Short cycles against the time steps below, so that the sessions go through many
# ping / pong-wait / timeout cycles.
OPTS = EngineOptions(ping_interval=5, ping_timeout=4, upgrade_timeout=10)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


def new_session(start: str, record: bool) -> EngineSession:
    """A session on WebSocket: opened there, or upgraded from polling."""
    s = EngineSession("A" * 20, "websocket" if start == "websocket" else "polling", OPTS, 0.0)
    s.record_packets = record
    if start == "upgraded":
        assert s.begin_upgrade(0.0)
        s.receive_probe_packet(Packet(PacketType.PING, "probe"), 0.0)
        s.receive_probe_packet(Packet(PacketType.UPGRADE), 0.0)
        s.events_received()
    assert s.transport == "websocket"
    return s


def general_path(s: EngineSession, data: str | bytes, now: float) -> None:
    """What the fast entry must equal: decode, then ``receive_packet``; undecodable
    input closes with ``parse error`` (on WebSocket, ``close`` is that close)."""
    try:
        packet = decode_packet(data)
    except RemoteProtocolError as exc:
        s.close("parse error", str(exc))
        return
    s.receive_packet(packet, now)


def snapshot(s: EngineSession) -> tuple[Any, ...]:
    return (
        s.state,
        s.reason,
        s.description,
        s.transport,
        s.ping_at,
        s.pong_deadline,
        s.next_deadline(),
        s.has_outgoing,
        s.record_packets,
        s.closing_payload_pending,
    )


text = st.text(max_size=8)
fast_messages = st.one_of(
    text.map(lambda t: "4" + t),  # text MESSAGE
    st.binary(max_size=8),  # binary MESSAGE
)
other_messages = st.one_of(
    st.binary(max_size=8).map(bytearray),  # not exactly bytes: the general path
    st.sampled_from(["", "2", "3", "3", "3probe", "1", "5", "6", "0", "4"]),
    text.map(lambda t: "b" + t),  # base64 binary in a text frame
    text,  # garbage, mostly
)
# Seconds between steps; the exact values land on deadlines (as a timer firing does).
delays = st.one_of(st.sampled_from([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]), st.floats(0, 6))
step_kinds: dict[str, tuple[int, st.SearchStrategy[tuple[Any, ...]]]] = {
    # kind: (weight, strategy)
    # a message, after ``delay`` seconds, and after the timer if it is due then (as the
    # I/O layer's timer fires) or not (a message that beats the timer)
    "fast": (8, st.tuples(st.just("message"), fast_messages, delays, st.booleans())),
    "timer": (2, st.tuples(st.just("timer"), delays)),
    "pong": (2, st.tuples(st.just("message"), st.just("3"), delays, st.booleans())),
    "other": (1, st.tuples(st.just("message"), other_messages, delays, st.booleans())),
    "record": (1, st.tuples(st.just("record"), st.booleans())),
    "send": (1, st.tuples(st.just("send"), text)),
    "drain": (1, st.tuples(st.just("drain"))),
    "close": (1, st.tuples(st.just("close"))),
}
steps = st.lists(
    st.sampled_from(
        [kind for kind, (weight, _) in step_kinds.items() for _ in range(weight)]
    ).flatmap(lambda kind: step_kinds[kind][1]),
    min_size=15,
    max_size=60,
)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=400)
@given(
    start=st.sampled_from(["websocket", "upgraded"]),
    record=st.booleans(),
    script=steps,
)
def test_receive_data_equals_the_general_path(
    start: str, record: bool, script: list[tuple[Any, ...]]
) -> None:
    fast = new_session(start, record)
    ref = new_session(start, record)
    fast_log: list[ServerEvent] = []
    ref_log: list[ServerEvent] = []
    now = 0.0
    for step in script:
        kind = step[0]
        if kind == "message":
            _, data, dt, fire = step
            now += dt
            for s in (fast, ref):
                deadline = s.next_deadline()
                if fire and deadline is not None and deadline <= now:
                    s.handle_timer(now)
            message = fast.receive_data(data, Clock(now))
            if message is not None:
                # the caller drains the events before it delivers the message
                fast_log.extend(fast.events_received())
                fast_log.append(MessageReceived(message))
            general_path(ref, data, now)
        elif kind == "timer":
            now += step[1]
            fast.handle_timer(now)
            ref.handle_timer(now)
        elif kind == "record":
            fast.record_packets = ref.record_packets = step[1]
        elif kind == "send":
            packet = Packet(PacketType.MESSAGE, step[1])
            assert fast.send(packet) == ref.send(packet)
        elif kind == "drain":
            fast_log.extend(fast.events_received())
            ref_log.extend(ref.events_received())
            assert fast_log == ref_log
            assert fast.packets_to_send() == ref.packets_to_send()
        else:
            fast.close()
            ref.close()
        assert snapshot(fast) == snapshot(ref)
    fast_log.extend(fast.events_received())
    ref_log.extend(ref.events_received())
    assert fast_log == ref_log
    assert fast.packets_to_send() == ref.packets_to_send()
