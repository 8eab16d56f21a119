"""The shared HTTP types: HttpRequest's cached query and url, WebSocketAccept."""

from __future__ import annotations

from urllib.parse import parse_qsl

from hypothesis import given, settings
from hypothesis import strategies as st

from aiosocketio.engine.http import (
    HttpRequest,
    HttpResponse,
    WebSocketAccept,
    WebSocketChannel,
    WebSocketHandler,
    parse_query,
)


def request(qs: str) -> HttpRequest:
    return HttpRequest("GET", "/engine.io/", qs, {}, "127.0.0.1", 1234, False)


def test_query_and_url() -> None:
    req = request("EIO=4&transport=polling&t=a%20b&x=1&x=2&flag&plus=a+b")
    assert req.query == {
        "EIO": "4",
        "transport": "polling",
        "t": "a b",
        "x": "1",
        "flag": "",
        "plus": "a b",
    }
    assert req.query is req.query  # computed once
    assert req.url == "/engine.io/?EIO=4&transport=polling&t=a%20b&x=1&x=2&flag&plus=a+b"
    assert request("").url == "/engine.io/" and request("").query == {}


def test_response_and_accept() -> None:
    response = HttpResponse(403, [("Content-Type", "text/plain")], b"no")
    assert (response.status, response.body) == (403, b"no")
    seen: list[object] = []

    class Handler:
        def on_message(self, data: str | bytes) -> None:
            seen.append(data)

        def on_close(self, code: int | None) -> None:
            seen.append(code)

    class Channel:
        can_write_frames = True

        def write_frames(self, data: bytes) -> None:
            pass

        def send_message(self, data: str | bytes) -> None:
            pass

        def close(self, code: int = 1000, reason: str = "") -> None:
            pass

        def drop(self) -> None:
            pass

        @property
        def drained(self) -> bool:
            return True

        @property
        def buffered_amount(self) -> int:
            return 0

    channel = Channel()

    def attach(ch: WebSocketChannel) -> WebSocketHandler:
        seen.append(ch)
        return Handler()

    accept = WebSocketAccept([("X-A", "1")], attach)
    handler = accept.attach(channel)
    assert accept.headers == [("X-A", "1")] and seen == [channel]
    handler.on_message("m")
    handler.on_close(None)
    assert seen == [channel, "m", None]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(alphabet="ab=&%+;2Fé ", max_size=6), st.text(alphabet="ab=&%+2F0é ", max_size=6)
        ),
        max_size=5,
    ),
    st.text(alphabet="ab=&%+;2F0é", max_size=20),
)
def test_parse_query_matches_parse_qsl(pairs: list[tuple[str, str]], raw: str) -> None:
    for qs in ("&".join(f"{k}={v}" for k, v in pairs), raw):
        expected: dict[str, str] = {}
        for key, value in parse_qsl(qs, keep_blank_values=True):
            expected.setdefault(key, value)
        assert parse_query(qs) == expected
