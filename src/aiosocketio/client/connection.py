"""The client's Engine.IO pump: transports, heartbeat timer and the polling -> WebSocket upgrade.

:class:`EngineConnection` feeds what a transport received into the sans-I/O
:class:`~aiosocketio.protocol.engineio.client_session.EngineClientSession`, writes the packets the
session returns, and arms one timer at the session's deadline. It reports to its owner (the
:class:`~aiosocketio.client.manager.Manager`) through two callbacks: ``on_message(data)``
for every MESSAGE and ``on_close(reason, description)`` once, when the connection ends by
itself (not after :meth:`EngineConnection.close`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import ssl as ssl_module
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiosocketio.client.transports import (
    ClientHttpConnection,
    ClientWebSocketConnection,
    Endpoint,
    TransportError,
)
from aiosocketio.protocol.engineio.client_session import EngineClientSession
from aiosocketio.protocol.engineio.events import (
    Closed,
    MessageReceived,
    Opened,
    PingReceived,
)
from aiosocketio.protocol.engineio.packets import (
    Packet,
    PacketType,
    encode_packet,
    encode_payload,
)

__all__ = ["EngineConnection", "TransportInfo", "wait_closing"]

logger = logging.getLogger("aiosocketio.client")

# engine.io-client's Socket.priorWebsocketSuccess: shared by every connection of the process.
_prior_websocket_success = False

# Closing POSTs still running (a strong reference keeps each task alive).
_closing_tasks: set[asyncio.Task[None]] = set()


async def wait_closing() -> None:
    """Wait until every connection closed in this process has finished its closing I/O.

    ``close()`` is synchronous, like socket.io-client's; over polling the last packets and
    the close packet still travel in a final POST. Await this (or
    :meth:`aiosocketio.client.Manager.wait_closed`) before stopping the event loop.
    """
    loop = asyncio.get_running_loop()
    while True:
        pending = [t for t in _closing_tasks if t.get_loop() is loop and not t.done()]
        if not pending:
            break
        await asyncio.gather(*pending, return_exceptions=True)
    # transports closed during the last tick need one more to release their sockets
    await asyncio.sleep(0)
    await asyncio.sleep(0)


@dataclass(frozen=True, slots=True)
class TransportInfo:
    """What ``engine.transport`` shows: the transport's ``name``."""

    name: str


def _timestamp() -> str:
    return secrets.token_urlsafe(6)


class EngineConnection:
    """One Engine.IO v4 connection from the client side.

    Args:
        endpoint: where the server is.
        query: extra query parameters for every request.
        headers: extra HTTP headers for every request (and the WebSocket upgrade).
        transports: transport names in order of preference.
        upgrade: try to upgrade polling to WebSocket after the handshake.
        remember_upgrade: start with WebSocket if a WebSocket worked before.
        ssl: the TLS context, or ``None`` for plain TCP.
        on_message: called with every MESSAGE packet's data.
        on_close: called once with ``(reason, description)`` when the connection drops.
    """

    __slots__ = (
        "_closed",
        "_endpoint",
        "_flush_scheduled",
        "_get_conn",
        "_handshake",
        "_headers",
        "_listeners",
        "_loop",
        "_pausing",
        "_poll_task",
        "_post_buffer",
        "_post_conn",
        "_post_task",
        "_probe_task",
        "_query",
        "_remember_upgrade",
        "_ssl",
        "_timer",
        "_transports",
        "_upgrade",
        "_ws",
        "on_close",
        "on_message",
        "session",
        "transport_name",
    )

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        query: dict[str, str],
        headers: Sequence[tuple[str, str]],
        transports: Sequence[str],
        upgrade: bool,
        remember_upgrade: bool,
        ssl: ssl_module.SSLContext | None,
        on_message: Callable[[str | bytes], None],
        on_close: Callable[[str, str | None], None],
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._endpoint = endpoint
        self._query = query
        self._headers = list(headers)
        self._transports = tuple(transports)
        self._upgrade = upgrade
        self._remember_upgrade = remember_upgrade
        self._ssl = ssl
        self.on_message = on_message
        self.on_close = on_close
        self.session = EngineClientSession()
        self.transport_name = ""
        self._get_conn: ClientHttpConnection | None = None
        self._post_conn: ClientHttpConnection | None = None
        self._ws: ClientWebSocketConnection | None = None
        self._poll_task: asyncio.Task[None] | None = None
        self._post_task: asyncio.Task[None] | None = None
        self._probe_task: asyncio.Task[None] | None = None
        self._post_buffer: list[Packet] = []
        self._pausing = False
        self._flush_scheduled = False
        self._timer: asyncio.TimerHandle | None = None
        self._handshake: asyncio.Future[Opened] | None = None
        self._closed = False
        self._listeners: dict[str, list[Callable[..., Any]]] | None = None

    # -- events ----------------------------------------------------------------------
    def on(self, event: str, handler: Callable[..., Any]) -> Callable[..., Any]:
        """Listen to an engine event, as with engine.io-client's socket.

        Events: ``ping()``, ``upgrading(name)`` (probe succeeded), ``upgrade(name)`` (the
        connection now uses that transport), ``upgrade_error(err)``.
        """
        if self._listeners is None:
            self._listeners = {}
        self._listeners.setdefault(event, []).append(handler)
        return handler

    def off(self, event: str, handler: Callable[..., Any]) -> None:
        """Remove a listener added with :meth:`on`."""
        if self._listeners and handler in self._listeners.get(event, ()):
            self._listeners[event].remove(handler)

    def _emit(self, event: str, *args: Any) -> None:
        if self._listeners is None:
            return
        for handler in list(self._listeners.get(event, ())):
            try:
                handler(*args)
            except Exception:
                logger.exception("error in an engine %r listener", event)

    @property
    def transport(self) -> TransportInfo:
        """The current transport (``engine.transport.name``)."""
        return TransportInfo(self.transport_name)

    # -- opening ---------------------------------------------------------------------
    @property
    def sid(self) -> str | None:
        """The Engine.IO session id, once open."""
        return self.session.sid

    def _target(self, transport: str, *, timestamp: bool) -> str:
        query = dict(self._query)
        query["EIO"] = "4"
        query["transport"] = transport
        if timestamp:
            query["t"] = _timestamp()
        if self.session.sid is not None:
            query["sid"] = self.session.sid
        return self._endpoint.target(query)

    async def open(self) -> None:
        """Connect and complete the Engine.IO handshake (raises :class:`TransportError`)."""
        if not self._transports:
            raise TransportError("No transports available")
        first = self._transports[0]
        if self._remember_upgrade and _prior_websocket_success and "websocket" in self._transports:
            first = "websocket"
        self._handshake = self._loop.create_future()
        try:
            if first == "websocket":
                await self._open_websocket()
            else:
                await self._open_polling()
        except BaseException:
            self._shutdown()
            raise
        self._arm_timer()
        if (
            self._upgrade
            and self.transport_name == "polling"
            and "websocket" in self.session.upgrades
            and "websocket" in self._transports
        ):
            self._probe_task = self._loop.create_task(self._probe())

    async def _open_polling(self) -> None:
        self.transport_name = "polling"
        self._get_conn = await ClientHttpConnection.open(self._endpoint, self._ssl)
        resp = await self._get_conn.request(
            "GET", self._target("polling", timestamp=True), self._headers
        )
        if resp.status != 200:
            raise TransportError("xhr poll error", _error_description(resp.status, resp.body))
        self._receive_body(resp.body)
        handshake = self._handshake
        assert handshake is not None
        if not handshake.done():
            closed = self.session.state == "closed"
            raise TransportError("xhr poll error", "closed" if closed else "no handshake")
        self._poll_task = self._loop.create_task(self._poll_loop())

    async def _open_websocket(self) -> None:
        global _prior_websocket_success
        self.transport_name = "websocket"
        ws = await ClientWebSocketConnection.open(
            self._endpoint,
            self._target("websocket", timestamp=False),
            self._headers,
            self._ssl,
        )
        self._ws = ws
        ws.attach(self._on_ws_message, self._on_ws_close)
        handshake = self._handshake
        assert handshake is not None
        await handshake
        _prior_websocket_success = True

    def _on_ws_message(self, data: str | bytes) -> None:
        self.session.receive_data(data, self._loop.time())
        self._process()

    def _on_ws_close(self, reason: str, description: str | None) -> None:
        if self._closed:
            return
        self.session.close(reason, description)
        self._process()

    def _receive_body(self, body: bytes) -> None:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            self.session.close("parse error", "invalid UTF-8 in polling payload")
        else:
            self.session.receive_payload(text, self._loop.time())
        self._process()

    # -- event pump ------------------------------------------------------------------
    def _process(self) -> None:
        for event in self.session.events_received():
            if isinstance(event, MessageReceived):
                if not self._closed:
                    self.on_message(event.data)
            elif isinstance(event, PingReceived):
                self._emit("ping")
            elif isinstance(event, Opened):
                if self._handshake is not None and not self._handshake.done():
                    self._handshake.set_result(event)
            elif isinstance(event, Closed):
                self._on_closed(event.reason, event.description)
                return
        self._flush()

    def _arm_timer(self) -> None:
        deadline = self.session.next_deadline()
        if deadline is not None and not self._closed:
            self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self.session.handle_timer(self._loop.time())
        self._process()
        self._arm_timer()

    # -- sending ---------------------------------------------------------------------
    @property
    def writable(self) -> bool:
        """The current transport can take a packet now (Node's ``transport.writable``)."""
        if self._closed or self.session.state != "open":
            return False
        if self.transport_name == "websocket":
            return self._ws is not None and self._ws.writable
        return self._post_task is None and not self._pausing

    def send(self, data: str | bytes) -> None:
        """Queue one MESSAGE; writes made in the same loop tick go out together."""
        self.session.send_message(data)
        if not self._flush_scheduled and not self._closed:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._closed:
            return
        packets = self.session.packets_to_send()
        if not packets and not self._post_buffer:
            return
        if self.transport_name == "websocket":
            if self._ws is not None:
                if self._post_buffer:
                    packets = self._post_buffer + packets
                    self._post_buffer = []
                self._ws.send([encode_packet(p) for p in packets])
            return
        self._post_buffer.extend(packets)
        if self._post_task is None and not self._pausing and self._post_buffer:
            self._post_task = self._loop.create_task(self._post())

    async def _post(self) -> None:
        try:
            while self._post_buffer and not self._closed:
                batch = self._take_batch()
                body = encode_payload(batch).encode("utf-8")
                try:
                    if self._post_conn is None or self._post_conn.closed:
                        self._post_conn = await ClientHttpConnection.open(self._endpoint, self._ssl)
                    resp = await self._post_conn.request(
                        "POST",
                        self._target("polling", timestamp=True),
                        [*self._headers, ("content-type", "text/plain;charset=UTF-8")],
                        body,
                    )
                except TransportError as exc:
                    self._fail("transport error", f"xhr post error: {exc}")
                    return
                if resp.status != 200:
                    desc = _error_description(resp.status, resp.body)
                    self._fail("transport error", f"xhr post error: {desc}")
                    return
                if self._pausing:
                    return
        finally:
            self._post_task = None

    def _take_batch(self) -> list[Packet]:
        # engine.io-client splits the write buffer so one payload stays under maxPayload.
        limit = self.session.max_payload
        size = 0
        count = 0
        for packet in self._post_buffer:
            data = packet.data
            size += 2 + (len(data) if isinstance(data, str) else (len(data or b"") * 4) // 3 + 4)
            if count and size > limit:
                break
            count += 1
        batch = self._post_buffer[:count]
        del self._post_buffer[:count]
        return batch

    # -- polling ---------------------------------------------------------------------
    async def _poll_loop(self) -> None:
        while not self._closed and not self._pausing and self.transport_name == "polling":
            conn = self._get_conn
            try:
                if conn is None or conn.closed:
                    conn = self._get_conn = await ClientHttpConnection.open(
                        self._endpoint, self._ssl
                    )
                resp = await conn.request(
                    "GET", self._target("polling", timestamp=True), self._headers
                )
            except TransportError as exc:
                if not self._closed and self.transport_name == "polling":
                    self._fail("transport error", f"xhr poll error: {exc}")
                return
            if self._closed:
                return
            if resp.status != 200:
                desc = _error_description(resp.status, resp.body)
                self._fail("transport error", f"xhr poll error: {desc}")
                return
            self._receive_body(resp.body)

    # -- upgrade ---------------------------------------------------------------------
    async def _probe(self) -> None:
        """Engine.IO v4 spec, "Upgrade": probe a WebSocket, pause polling, send "5"."""
        global _prior_websocket_success
        try:
            ws = await ClientWebSocketConnection.open(
                self._endpoint,
                self._target("websocket", timestamp=False),
                self._headers,
                self._ssl,
                timeout=self.session.ping_interval + self.session.ping_timeout,
            )
        except TransportError as exc:
            logger.debug("probe error: %s", exc)
            self._emit("upgrade_error", exc)
            return
        reply: asyncio.Future[str | bytes] = self._loop.create_future()

        def on_message(data: str | bytes) -> None:
            if not reply.done():
                reply.set_result(data)

        def on_close(reason: str, description: str | None) -> None:
            if not reply.done():
                reply.set_exception(TransportError("probe error", reason))

        ws.attach(on_message, on_close)
        try:
            ws.send([encode_packet(Packet(PacketType.PING, "probe"))])
            data = await asyncio.wait_for(reply, self.session.ping_timeout)
            if data != "3probe":
                raise TransportError("probe error", repr(data))
            if self._closed:
                raise TransportError("probe error", "closed")
            self._emit("upgrading", "websocket")
            # pause the polling transport: let the pending GET (answered with a noop) and
            # the pending POST finish, and hold new packets in the session meanwhile.
            self._pausing = True
            self.session.pause()
            if self._poll_task is not None:
                await self._poll_task
            while self._post_task is not None:
                await asyncio.shield(self._post_task)
            if self._closed or self.session.state != "open":
                raise TransportError("probe error", "closed during upgrade")
        except BaseException as exc:
            ws.abort()
            if not isinstance(exc, (TransportError, TimeoutError)):
                raise  # cancelled: the connection is closing
            logger.debug("upgrade failed: %s", exc)
            self._emit("upgrade_error", exc)
            if self._pausing and not self._closed:
                self._pausing = False
                self.session.resume()
                self._poll_task = self._loop.create_task(self._poll_loop())
                self._flush()
            return
        finally:
            self._probe_task = None
        ws.attach(self._on_ws_message, self._on_ws_close)
        if self._closed:  # the probe connection dropped at the last moment
            return
        ws.send([encode_packet(Packet(PacketType.UPGRADE))])
        self._ws = ws
        self.transport_name = "websocket"
        _prior_websocket_success = True
        self._pausing = False
        for conn in (self._get_conn, self._post_conn):
            if conn is not None:
                conn.close()
        self._get_conn = self._post_conn = None
        self.session.resume()
        self._flush()
        self._emit("upgrade", "websocket")

    # -- closing ---------------------------------------------------------------------
    def _fail(self, reason: str, description: str | None) -> None:
        self.session.close(reason, description)
        self._process()

    def _on_closed(self, reason: str, description: str | None) -> None:
        if self._closed:
            return
        self._shutdown()
        self.on_close(reason, description)

    def _shutdown(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        current = asyncio.current_task(self._loop) if self._loop.is_running() else None
        for task in (self._poll_task, self._probe_task, self._post_task):
            if task is not None and task is not current:
                task.cancel()
        self._poll_task = self._probe_task = self._post_task = None
        for conn in (self._get_conn, self._post_conn):
            if conn is not None:
                conn.close()
        self._get_conn = self._post_conn = None
        if self._ws is not None:
            self._ws.close()
            self._ws = None
        if self._handshake is not None and not self._handshake.done():
            self._handshake.set_exception(TransportError("transport close"))
            self._handshake.exception()  # retrieved: nobody may be waiting any more

    def close(self) -> None:
        """Close from this side ("forced close"); pending packets are written first.

        ``on_close`` is not called: the owner closed the connection and knows why.
        """
        if self._closed:
            return
        self.session.resume()
        packets = self._post_buffer + self.session.packets_to_send()
        self._post_buffer = []
        if self.transport_name == "websocket" and self._ws is not None:
            if packets:
                self._ws.send([encode_packet(p) for p in packets])
            self._shutdown()
            return
        post = self._post_conn
        poll = self._get_conn
        sid = self.session.sid
        # keep both connections out of _shutdown: the POST carries the close packet, and
        # the pending GET must not be aborted before the server has read it (Node would
        # see "transport close" instead of the namespace disconnect).
        self._post_conn = self._get_conn = None
        self._shutdown()
        if sid is None:
            for conn in (post, poll):
                if conn is not None:
                    conn.close()
            return
        # engine.io-client waits for the write buffer to drain before it sends the close
        # packet: Node's server handles a namespace DISCONNECT on the next tick, so a
        # close packet in the same payload would win and turn it into "transport close".
        bodies = [encode_payload(packets).encode("utf-8")] if packets else []
        bodies.append(encode_payload([Packet(PacketType.CLOSE)]).encode("utf-8"))
        task = self._loop.create_task(self._final_post(post, poll, bodies))
        _closing_tasks.add(task)
        task.add_done_callback(_closing_tasks.discard)

    async def _final_post(
        self,
        conn: ClientHttpConnection | None,
        poll: ClientHttpConnection | None,
        bodies: list[bytes],
    ) -> None:
        try:
            if conn is None or conn.closed or conn.busy:
                if conn is not None:
                    conn.close()
                conn = await ClientHttpConnection.open(self._endpoint, self._ssl, timeout=5)
            for body in bodies:
                await asyncio.wait_for(
                    conn.request(
                        "POST",
                        self._target("polling", timestamp=True),
                        [*self._headers, ("content-type", "text/plain;charset=UTF-8")],
                        body,
                    ),
                    5,
                )
        except (TransportError, TimeoutError):
            pass
        finally:
            for c in (conn, poll):
                if c is not None:
                    c.close()


def _error_description(status: int, body: bytes) -> str:
    text = body[:200].decode("utf-8", "replace")
    return f"{status} {text}" if text else str(status)
