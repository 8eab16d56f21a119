"""The client's WebSocket transport over asyncio.

:class:`ClientWebSocketConnection` performs the RFC 6455 opening handshake itself and then
hands bytes to the sans-I/O :class:`~aiosocketio.protocol.websocket.WebSocketProtocol`
(client side, masked frames), pulled the same way as on the server: the protocol's own
frames are written first, then the messages are delivered, then the close is handled. Its
close is the closing handshake of ``ws`` (under socket.io-client), bounded by
:data:`~aiosocketio.client.transports.CLOSE_TIMEOUT`.
"""

from __future__ import annotations

import asyncio
import ssl as ssl_module
from collections.abc import Callable, Iterable

import httptools

from aiosocketio.client import transports
from aiosocketio.client.transports import USER_AGENT, Endpoint, TransportError
from aiosocketio.protocol.websocket import (
    Close,
    WebSocketProtocol,
    check_upgrade_response,
    client_key,
)

__all__ = ["ClientWebSocketConnection"]


class ClientWebSocketConnection(asyncio.Protocol):
    """A client WebSocket: the opening handshake, then sans-I/O framing.

    ``on_message(data)`` gets every text or binary message; ``on_close(reason,
    description)`` is called once when the connection ends ("transport close" when the
    peer closed or the socket dropped, "transport error" on a protocol error).

    :meth:`close` performs the closing handshake as ``ws`` (under socket.io-client) does:
    the close frame goes after everything already written, then the connection keeps
    reading (and dropping) until the server's close frame arrives, and only then closes
    TCP; :meth:`wait_closed` waits for that.
    """

    __slots__ = (
        "_close_timer",
        "_closed",
        "_done",
        "_early",
        "_handshake",
        "_key",
        "_loop",
        "_lost_reason",
        "_parser",
        "_status",
        "_ws",
        "_wsheaders",
        "endpoint",
        "on_close",
        "on_message",
        "transport",
    )

    def __init__(self, endpoint: Endpoint, max_message_size: int) -> None:
        self.endpoint = endpoint
        self.transport: asyncio.Transport | None = None
        self.on_message: Callable[[str | bytes], None] | None = None
        self.on_close: Callable[[str, str | None], None] | None = None
        self._ws = WebSocketProtocol("client", max_message_size=max_message_size)
        self._key = client_key()
        self._parser: httptools.HttpResponseParser | None = httptools.HttpResponseParser(self)
        self._wsheaders: dict[str, str] = {}
        self._status = 0
        loop = self._loop = asyncio.get_running_loop()
        self._handshake: asyncio.Future[None] = loop.create_future()
        self._done: asyncio.Future[None] = loop.create_future()
        self._close_timer: asyncio.TimerHandle | None = None
        self._closed = False
        self._early: list[str | bytes] = []
        self._lost_reason: tuple[str, str | None] | None = None

    @classmethod
    async def open(
        cls,
        endpoint: Endpoint,
        target: str,
        headers: Iterable[tuple[str, str]],
        ssl: ssl_module.SSLContext | None,
        timeout: float | None = None,
        max_message_size: int = 100_000_000,
    ) -> ClientWebSocketConnection:
        """Connect and complete the opening handshake (raises :class:`TransportError`)."""
        loop = asyncio.get_running_loop()
        proto: ClientWebSocketConnection | None = None

        def factory() -> ClientWebSocketConnection:
            nonlocal proto
            proto = cls(endpoint, max_message_size)
            return proto

        try:
            async with asyncio.timeout(timeout):
                await loop.create_connection(
                    factory,
                    endpoint.host,
                    endpoint.port,
                    ssl=ssl,
                    server_hostname=endpoint.host if ssl is not None else None,
                )
                assert proto is not None
                proto._send_handshake(target, headers)
                await proto._handshake
        except (OSError, TimeoutError, ssl_module.SSLError) as exc:
            if proto is not None:
                proto.abort()
            raise TransportError("websocket error", exc) from exc
        except BaseException:  # TransportError, or cancelled mid-handshake
            if proto is not None:
                proto.abort()
            raise
        assert proto is not None
        return proto

    def _send_handshake(self, target: str, headers: Iterable[tuple[str, str]]) -> None:
        lines = [
            f"GET {target} HTTP/1.1",
            f"host: {self.endpoint.host_header}",
            "upgrade: websocket",
            "connection: Upgrade",
            f"sec-websocket-key: {self._key}",
            "sec-websocket-version: 13",
            f"user-agent: {USER_AGENT}",
        ]
        lines.extend(f"{k}: {v}" for k, v in headers)
        assert self.transport is not None
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    # -- asyncio.Protocol ------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self._parser is not None:
            try:
                self._parser.feed_data(data)
            except httptools.HttpParserUpgrade as exc:
                offset = exc.args[0] if exc.args and isinstance(exc.args[0], int) else len(data)
                if not self._finish_handshake():
                    return
                data = data[offset:]
                if not data:
                    return
            except httptools.HttpParserError as exc:
                self._fail_handshake(TransportError("websocket error", exc))
                return
            else:
                return
        self._feed(data)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._wsheaders[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        assert self._parser is not None
        self._status = self._parser.get_status_code()
        if self._status != 101:
            self._fail_handshake(
                TransportError("websocket error", f"unexpected status {self._status}")
            )

    def _finish_handshake(self) -> bool:
        self._parser = None
        error = check_upgrade_response(self._status, self._wsheaders, self._key)
        if error is not None:
            self._fail_handshake(TransportError("websocket error", error))
            return False
        if not self._handshake.done():
            self._handshake.set_result(None)
        return True

    def _fail_handshake(self, exc: TransportError) -> None:
        if not self._handshake.done():
            self._handshake.set_exception(exc)
        self.abort()

    def _feed(self, data: bytes) -> None:
        ws = self._ws
        messages = ws.receive_data(data)
        events = None
        if ws.events_pending:
            # the protocol's pongs and close reply go out before any answer
            out = ws.data_to_send()
            if out and self.transport is not None:
                self.transport.write(out)
            events = ws.events_received()
        for message in messages:
            if self._closed:
                break
            if self.on_message is None:
                # arrived with the 101 response, before the owner attached: keep it
                self._early.append(message)
            else:
                self.on_message(message)
        if events:
            for event in events:
                if isinstance(event, Close):
                    code = event.code
                    reason = "transport close" if code in (1000, 1001, 1005) else "transport error"
                    self._lost(reason, f"websocket closed with code {code}")
                    if self.transport is not None:
                        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        if not self._done.done():
            self._done.set_result(None)
        if not self._handshake.done():
            self._handshake.set_exception(TransportError("websocket error", exc or "closed"))
        self._lost("transport close", str(exc) if exc else None)

    def _lost(self, reason: str, description: str | None) -> None:
        if self._closed:
            return
        self._closed = True
        # remembered for a later attach(): the upgrade hands the connection from the
        # probe's callbacks to the engine's, and a loss in between must not be missed
        self._lost_reason = (reason, description)
        callback = self.on_close
        self.on_close = None
        if callback is not None:
            callback(reason, description)

    def attach(
        self,
        on_message: Callable[[str | bytes], None],
        on_close: Callable[[str, str | None], None],
    ) -> None:
        """Set the callbacks, then deliver what arrived before (messages, a close)."""
        self.on_message = on_message
        self.on_close = on_close
        early = self._early
        self._early = []
        for data in early:
            on_message(data)
        lost = self._lost_reason
        if lost is not None:
            self.on_close = None
            on_close(*lost)

    # -- API -------------------------------------------------------------------------
    @property
    def writable(self) -> bool:
        """The connection is open and its write buffer is not backed up."""
        return (
            not self._closed
            and self.transport is not None
            and not self.transport.is_closing()
            and self.transport.get_write_buffer_size() < 1_048_576
        )

    def send(self, messages: Iterable[str | bytes]) -> None:
        """Write messages (one frame each), in a single write."""
        if self._closed or self.transport is None:
            return
        ws = self._ws
        self.transport.write(b"".join([ws.send_message(m) for m in messages]))

    def close(self, timeout: float | None = None) -> None:
        """Start the closing handshake; no callback fires any more.

        RFC 6455 §7.1.1 and §5.5.1: a normal close frame is written after whatever was
        written before; what the server still sends is read and dropped until its close
        frame arrives, and then the TCP connection is closed (by the server first, as the
        RFC prefers, or by us at once). Without the server's close frame within
        ``timeout`` seconds (:data:`~aiosocketio.client.transports.CLOSE_TIMEOUT` by
        default) the connection is dropped.
        Closing TCP at once instead would make the server's last writes fail, and it
        would report "transport error" rather than the namespace disconnect it had not
        handled yet.
        """
        transport = self.transport
        self._closed = True
        self.on_close = None
        if transport is None or transport.is_closing():
            return
        if self._parser is not None:  # still in the opening handshake: nothing to close
            transport.abort()
            return
        transport.write(self._ws.send_close(1000))
        if self._ws.closed:  # the server's close frame already came
            transport.close()
        elif self._close_timer is None:
            delay = transports.CLOSE_TIMEOUT if timeout is None else timeout
            self._close_timer = self._loop.call_later(delay, self.abort)

    async def wait_closed(self) -> None:
        """Wait until the TCP connection is closed (see :meth:`close`)."""
        if self.transport is not None:
            await asyncio.shield(self._done)

    def abort(self) -> None:
        """Drop the connection at once."""
        self._closed = True
        self.on_close = None
        if self.transport is not None:
            self.transport.abort()
