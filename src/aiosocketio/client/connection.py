"""The client's Engine.IO pump: transports, heartbeat timer and the polling -> WebSocket upgrade.

:class:`EngineConnection` feeds what a transport received into the sans-I/O
:class:`~aiosocketio.protocol.engineio.client_session.EngineClientSession`, writes the packets the
session returns, and arms one timer at the session's deadline. It reports to its owner (the
:class:`~aiosocketio.client.manager.Manager`) through two callbacks: ``on_message(data)``
for every MESSAGE and ``on_close(reason, description)`` once, when the connection ends by
itself (not after :meth:`EngineConnection.close`). HTTP long-polling is the
:class:`~aiosocketio.client.polling.PollingTransport`'s job, WebSocket framing the
:class:`~aiosocketio.client.websocket.ClientWebSocketConnection`'s; this module opens
them, upgrades from one to the other, and closes.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import ssl as ssl_module
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aiosocketio.client.polling import PollingTransport
from aiosocketio.client.transports import ClientWebSocket, Endpoint, TransportError
from aiosocketio.client.websocket import ClientWebSocketConnection
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
from aiosocketio.runtime.events import EventEmitter
from aiosocketio.runtime.tasks import TaskRegistry

__all__ = ["EngineConnection", "TransportInfo", "closing", "wait_closing"]

logger = logging.getLogger("aiosocketio.client")

# engine.io-client's Socket.priorWebsocketSuccess: shared by every connection of the process.
_prior_websocket_success = False

closing = TaskRegistry("a closing connection")
"""The closing I/O of closed connections still running: a polling connection's final
POSTs, a WebSocket's closing handshake."""


async def wait_closing() -> None:
    """Wait until every connection closed in this process has finished its closing I/O.

    ``close()`` is synchronous, like socket.io-client's; over polling the last packets and
    the close packet still travel in final POSTs, and a WebSocket waits for the server's
    close frame before it closes TCP (both bounded by
    :data:`~aiosocketio.client.transports.CLOSE_TIMEOUT`). Await this (or
    :meth:`aiosocketio.client.Manager.wait_closed`) before stopping the event loop.
    """
    await closing.wait()
    # transports closed during the last tick need one more to release their sockets
    await asyncio.sleep(0)
    await asyncio.sleep(0)


@dataclass(frozen=True, slots=True)
class TransportInfo:
    """What ``engine.transport`` shows: the transport's ``name``."""

    name: str


def _timestamp() -> str:
    return secrets.token_urlsafe(6)


class EngineConnection(EventEmitter):
    """One Engine.IO v4 connection from the client side.

    Events (``engine.on(name, handler)``, as with engine.io-client's socket): ``ping()``,
    ``upgrading(name)`` (the probe succeeded), ``upgrade(name)`` (the connection now uses
    that transport), ``upgrade_error(err)``.

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
        "_events",
        "_flush_scheduled",
        "_handshake",
        "_headers",
        "_loop",
        "_once_events",
        "_polling",
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
        self._init_events()
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
        self._polling: PollingTransport | None = None
        self._ws: ClientWebSocket | None = None
        self._probe_task: asyncio.Task[None] | None = None
        self._flush_scheduled = False
        self._timer: asyncio.TimerHandle | None = None
        self._handshake: asyncio.Future[Opened] | None = None
        self._closed = False

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

    def _polling_target(self) -> str:
        return self._target("polling", timestamp=True)

    async def _open_polling(self) -> None:
        self.transport_name = "polling"
        polling = self._polling = PollingTransport(
            self._endpoint,
            self._headers,
            self._ssl,
            target=self._polling_target,
            on_body=self._receive_body,
            on_error=self._on_polling_error,
        )
        self._receive_body(await polling.handshake())
        handshake = self._handshake
        assert handshake is not None
        if not handshake.done():
            closed = self.session.state == "closed"
            raise TransportError("xhr poll error", "closed" if closed else "no handshake")
        polling.max_payload = self.session.max_payload
        polling.start()

    def _on_polling_error(self, description: str) -> None:
        self._fail("transport error", description)

    async def _open_websocket(self) -> None:
        global _prior_websocket_success
        self.transport_name = "websocket"
        ws = await self._open_ws(self._target("websocket", timestamp=False), None)
        self._ws = ws
        ws.attach(self._on_ws_message, self._on_ws_close)
        handshake = self._handshake
        assert handshake is not None
        await handshake
        _prior_websocket_success = True

    def _open_ws(self, target: str, timeout: float | None) -> Awaitable[ClientWebSocket]:
        opener = self._endpoint.opener
        if opener is not None:
            return opener(self._endpoint, target, self._headers, self._ssl, timeout)
        return ClientWebSocketConnection.open(
            self._endpoint, target, self._headers, self._ssl, timeout=timeout
        )

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
                self.emit_reserved("ping")
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
        return self._polling is not None and self._polling.writable

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
        if self.transport_name == "websocket":
            if packets and self._ws is not None:
                self._ws.send([encode_packet(p) for p in packets])
        elif self._polling is not None:
            self._polling.write(packets)

    # -- upgrade ---------------------------------------------------------------------
    async def _probe(self) -> None:
        """Engine.IO v4 spec, "Upgrade": probe a WebSocket, pause polling, send "5"."""
        global _prior_websocket_success
        try:
            ws = await self._open_ws(
                self._target("websocket", timestamp=False),
                self.session.ping_interval + self.session.ping_timeout,
            )
        except TransportError as exc:
            logger.debug("probe error: %s", exc)
            self.emit_reserved("upgrade_error", exc)
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
            self.emit_reserved("upgrading", "websocket")
            # pause the polling transport: let the pending GET (answered with a noop) and
            # the pending POST finish, and hold new packets in the session meanwhile.
            polling = self._polling
            assert polling is not None
            self.session.pause()
            await polling.pause()
            if self._closed or self.session.state != "open":
                raise TransportError("probe error", "closed during upgrade")
        except BaseException as exc:
            # engine.io-client closes a failed (or abandoned) probe, closing handshake included
            self._close_ws(ws)
            if not isinstance(exc, (TransportError, TimeoutError)):
                raise  # cancelled: the connection is closing
            logger.debug("upgrade failed: %s", exc)
            self.emit_reserved("upgrade_error", exc)
            polling = self._polling
            if polling is not None and polling.paused and not self._closed:
                polling.start()
                self.session.resume()
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
        # the packets the polling transport had not posted yet go first
        left = polling.take_buffer()
        polling.close()
        self._polling = None
        self.session.resume()
        packets = left + self.session.packets_to_send()
        if packets:
            ws.send([encode_packet(p) for p in packets])
        self.emit_reserved("upgrade", "websocket")

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
        if self._probe_task is not None and self._probe_task is not current:
            self._probe_task.cancel()
        self._probe_task = None
        if self._polling is not None:
            self._polling.close()
            self._polling = None
        ws = self._ws
        if ws is not None:
            self._ws = None
            self._close_ws(ws)
        if self._handshake is not None and not self._handshake.done():
            self._handshake.set_exception(TransportError("transport close"))
            self._handshake.exception()  # retrieved: nobody may be waiting any more

    def _close_ws(self, ws: ClientWebSocket) -> None:
        ws.close()  # the closing handshake goes on: wait_closing() waits for it
        closing.spawn(ws.wait_closed(), loop=self._loop)

    def close(self) -> None:
        """Close from this side ("forced close"); pending packets are written first.

        As engine.io-client does: over WebSocket the packets are written, then the close
        frame, and TCP is closed once the server's close frame came back; over polling
        the packets are POSTed (after the POST in flight, if any), then the close packet,
        and the pending GET is dropped only after that. ``on_close`` is not called: the
        owner closed the connection and knows why.
        """
        if self._closed:
            return
        self.session.resume()
        polling = self._polling
        packets = polling.take_buffer() if polling is not None else []
        packets += self.session.packets_to_send()
        if self.transport_name == "websocket" and self._ws is not None:
            if packets:
                self._ws.send([encode_packet(p) for p in packets])
            self._shutdown()
            return
        sid = self.session.sid
        # the polling transport stays out of _shutdown: its POST connection carries the
        # close packet (see PollingTransport.close_with)
        self._polling = None
        self._shutdown()
        if polling is None:
            return
        if sid is None:
            polling.close()
            return
        # engine.io-client waits for the write buffer to drain before it sends the close
        # packet: Node's server handles a namespace DISCONNECT on the next tick, so a
        # close packet in the same payload would win and turn it into "transport close".
        bodies = [encode_payload(packets).encode("utf-8")] if packets else []
        bodies.append(encode_payload([Packet(PacketType.CLOSE)]).encode("utf-8"))
        closing.spawn(polling.close_with(bodies), loop=self._loop)
