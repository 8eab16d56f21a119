"""Issue 12, medium 8: every payload the official client can send is echoed as Node does.

The official ``socket.io-client`` (npm) emits values through our server, on both front
ends, and checks that the acknowledgement brings back the same value
(``JSON.stringify`` of both equal): strings with lone surrogates (half an emoji, which
``JSON.stringify`` escapes as ``\\ud83d``) and nesting up to the decoder's limit of 1024
levels included. The named cases run against Node's socket.io too, which echoes them all.
"""

from __future__ import annotations

import json
import select
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiosocketio.protocol import json_fallback
from tests.abuse.harness import start_target
from tests.support.node import INTEROP_DIR, JS_DIR, NODE_MODULES
from tests.support.servers import ServerProcess
from tests.support.timeouts import scaled

pytestmark = pytest.mark.interop


class EchoClient:
    """``abuse_echo_client.js`` driven line by line (synchronously, for hypothesis)."""

    def __init__(self, port: int, transport: str = "websocket") -> None:
        self.proc = subprocess.Popen(
            [
                "node",
                str(JS_DIR / "abuse_echo_client.js"),
                "--url",
                f"http://127.0.0.1:{port}",
                "--transport",
                transport,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=str(INTEROP_DIR),
            env={"NODE_PATH": str(NODE_MODULES), "PATH": "/usr/bin:/bin:/usr/local/bin"},
        )
        self.next_id = 0
        assert self.read(15).get("connected"), "the client did not connect"

    def read(self, timeout: float = 10) -> dict[str, Any]:
        stdout = self.proc.stdout
        assert stdout is not None
        ready, _, _ = select.select([stdout], [], [], scaled(timeout))
        if not ready:
            raise AssertionError("no answer from the client")
        line = stdout.readline()
        if not line:
            raise AssertionError("the client exited")
        result: dict[str, Any] = json.loads(line)
        return result

    def echo(self, text: str) -> dict[str, Any]:
        """Emit ``JSON.parse(text)``; the client's verdict on the acknowledgement."""
        self.next_id += 1
        stdin = self.proc.stdin
        assert stdin is not None
        stdin.write((json.dumps({"id": self.next_id, "json": text}) + "\n").encode())
        stdin.flush()
        answer = self.read()
        assert answer.get("id") == self.next_id, answer
        return answer

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()


@pytest.fixture(scope="module", params=["native", "asgi"])
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    target = start_target(str(request.param))
    yield target
    target.stop()


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> Iterator[EchoClient]:
    echo = EchoClient(server.port)
    yield echo
    echo.close()


def nest(depth: int, leaf: object) -> object:
    value = leaf
    for i in range(depth):
        value = {"k": value} if i % 3 == 0 else [value]
    return value


NAMED = {
    "lone high surrogate": "ab\ud83d",
    "lone low surrogate": "\ude00ab",
    "surrogates in keys": {"\ud800": ["\udfff", "😀"]},
    "300 levels": nest(300, 1),
    "1000 levels": nest(1000, "x"),
    # the deepest that fits: 1024 levels with the event's arguments array
    "1023 levels with a lone surrogate": nest(1022, ["\ud83d"]),
}


@pytest.mark.parametrize("name", list(NAMED))
def test_named_payloads_are_echoed(name: str, client: EchoClient) -> None:
    text = json_fallback.dumps(NAMED[name])
    answer = client.echo(text)
    assert answer.get("ok") is True, answer
    assert answer["echo"] == text


@pytest.mark.parametrize("name", list(NAMED))
def test_node_echoes_the_named_payloads_too(name: str, node_client: EchoClient) -> None:
    answer = node_client.echo(json_fallback.dumps(NAMED[name]))
    assert answer.get("ok") is True, answer


@pytest.fixture(scope="module")
def node_client() -> Iterator[EchoClient]:
    node = start_target("node")
    echo = EchoClient(node.port)
    yield echo
    echo.close()
    node.stop()


def test_polling_echoes_them_too(server: ServerProcess) -> None:
    echo = EchoClient(server.port, transport="polling")
    try:
        for value in NAMED.values():
            assert echo.echo(json_fallback.dumps(value)).get("ok") is True
    finally:
        echo.close()


_chars = st.one_of(
    st.characters(codec=None, exclude_categories=()),
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),  # lone surrogates
)
_text = st.text(_chars, max_size=8)
_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=10,
)


def _depth(value: object) -> int:
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


@settings(
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(value=_values, depth=st.integers(0, 1000))
def test_random_payloads_are_echoed(value: object, depth: int, client: EchoClient) -> None:
    wrapped = nest(depth, value)
    # the event's arguments array is one more level: stay within the decoder's 1024
    if _depth(wrapped) > 1023:
        wrapped = value
    text = json_fallback.dumps(wrapped)
    answer = client.echo(text)
    assert answer.get("ok") is True, answer
