"""The client :class:`Manager`: one Engine.IO connection, namespaces multiplexed on it.

It follows socket.io-client's ``Manager``: it opens the Engine.IO connection (with a
connect ``timeout``), decodes Socket.IO packets and hands each to the socket of its
namespace, and reconnects with exponential backoff after the connection drops, unless
the drop was asked for ("io client disconnect") or ordered by the server ("io server
disconnect").

Manager events (``manager.on(name, handler)``): ``open``, ``close(reason, description)``,
``error(err)``, ``ping``, ``reconnect_attempt(attempt)``, ``reconnect(attempt)``,
``reconnect_error(err)``, ``reconnect_failed()``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import ssl as ssl_module
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from aiosocketio.client.backoff import Backoff
from aiosocketio.client.connection import EngineConnection, wait_closing
from aiosocketio.client.socket import AuthOption, ClientSocket
from aiosocketio.client.transports import Endpoint, TransportError, make_ssl_context
from aiosocketio.exceptions import ConnectError, LocalProtocolError, RemoteProtocolError
from aiosocketio.protocol.codec import JSONCodec
from aiosocketio.protocol.socketio.packets import Packet
from aiosocketio.protocol.socketio.parsers import check_parser, make_decoder, make_encoder
from aiosocketio.runtime.events import EventEmitter

__all__ = ["Manager", "parse_url"]

logger = logging.getLogger("aiosocketio.client")


def parse_url(url: str) -> tuple[bool, str, int, str, dict[str, str]]:
    """Split a server URL into (secure, host, port, namespace, query).

    ``http``/``ws`` are plain, ``https``/``wss`` use TLS; the URL path is the namespace.
    """
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https", "ws", "wss"):
        raise LocalProtocolError(f"unsupported URL scheme {parts.scheme!r}")
    secure = scheme in ("https", "wss")
    host = parts.hostname or "localhost"
    try:
        port = parts.port or (443 if secure else 80)
    except ValueError as exc:
        raise LocalProtocolError(f"invalid port in {url!r}") from exc
    nsp = parts.path or "/"
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    return secure, host, port, nsp, query


class Manager(EventEmitter):
    """One Engine.IO connection to a server, shared by the sockets of several namespaces.

    Args:
        url: the server, e.g. ``"http://localhost:3000"`` (a path is ignored here).
        path: the Engine.IO path (``"/socket.io/"``).
        query: extra query parameters.
        extra_headers: extra HTTP headers (sent with every request and the upgrade).
        transports: ``("polling", "websocket")`` by default; the first is tried first.
        upgrade: upgrade polling to WebSocket when the server offers it.
        remember_upgrade: start with WebSocket when one worked before in this process.
        timeout: seconds to wait for the Engine.IO handshake (20).
        reconnection: reconnect automatically after the connection drops.
        reconnection_attempts: how many attempts before ``reconnect_failed`` (unlimited).
        reconnection_delay: the first delay, seconds (1).
        reconnection_delay_max: the largest delay, seconds (5).
        randomization_factor: the jitter, between 0 and 1 (0.5).
        auto_connect: open the connection at once (this needs a running event loop), and
            connect each socket made by :meth:`socket` at once. Without it, nothing
            happens until :meth:`open` or a socket's ``connect()``; the manager binds to
            the event loop it is opened in.
        ssl_verify: check the server's TLS certificate (on by default).
        ssl_context: a TLS context to use instead of the default one.
        json: the JSON codec (orjson by default).
        parser: the Socket.IO parser, as the server's ``parser`` option: ``None`` for the
            default one, or an object with ``Encoder`` and ``Decoder`` classes, such as
            :mod:`aiosocketio.protocol.socketio.msgpack_parser` (compatible with the npm
            ``socket.io-msgpack-parser``; the server must use the same parser).
    """

    def __init__(
        self,
        url: str = "http://localhost",
        *,
        path: str = "/socket.io/",
        query: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        transports: Sequence[str] = ("polling", "websocket"),
        upgrade: bool = True,
        remember_upgrade: bool = False,
        timeout: float | None = 20.0,
        reconnection: bool = True,
        reconnection_attempts: float = math.inf,
        reconnection_delay: float = 1.0,
        reconnection_delay_max: float = 5.0,
        randomization_factor: float = 0.5,
        auto_connect: bool = True,
        ssl_verify: bool = True,
        ssl_context: ssl_module.SSLContext | None = None,
        json: JSONCodec | None = None,
        parser: Any = None,
    ) -> None:
        secure, host, port, _, url_query = parse_url(url)
        for name in transports:
            if name not in ("polling", "websocket"):
                raise LocalProtocolError(f"unknown transport {name!r}")
        if not path.endswith("/"):
            path += "/"
        self.uri = url
        self.endpoint = Endpoint(secure, host, port, path)
        self.query: dict[str, str] = {**url_query, **{k: str(v) for k, v in (query or {}).items()}}
        self.extra_headers: list[tuple[str, str]] = list((extra_headers or {}).items())
        for name, value in self.extra_headers:
            if any(c in f"{name}{value}" for c in "\r\n\0") or not name or ":" in name:
                raise LocalProtocolError(f"invalid extra header {name!r}")
        self.transports = tuple(transports)
        self.upgrade = upgrade
        self.remember_upgrade = remember_upgrade
        self.timeout = timeout
        self.reconnection = reconnection
        self.reconnection_attempts = reconnection_attempts
        self.backoff = Backoff(
            reconnection_delay, reconnection_delay_max, 2.0, randomization_factor
        )
        self.auto_connect = auto_connect
        if secure:
            self._ssl: ssl_module.SSLContext | None = ssl_context or make_ssl_context(ssl_verify)
        else:
            self._ssl = None
        check_parser(parser)
        self.parser = parser
        self._json = json
        self.encoder = make_encoder(parser, json)
        self.decoder = make_decoder(parser, json)
        self.nsps: dict[str, ClientSocket] = {}
        self.engine: EngineConnection | None = None
        self.ready_state = "closed"
        self.reconnecting = False
        self._skip_reconnect = False
        self._reconnect_timer: asyncio.TimerHandle | None = None
        self._open_task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        if auto_connect:
            self.open()

    @property
    def reconnection_delay(self) -> float:
        """The first reconnection delay, in seconds."""
        return self.backoff.min

    @property
    def reconnection_delay_max(self) -> float:
        """The largest reconnection delay, in seconds."""
        return self.backoff.max

    @property
    def randomization_factor(self) -> float:
        """The jitter of the reconnection delay."""
        return self.backoff.jitter

    def socket(
        self,
        nsp: str = "/",
        *,
        auth: AuthOption = None,
        ack_timeout: float | None = None,
        retries: int = 0,
    ) -> ClientSocket:
        """The socket of namespace ``nsp`` on this connection (made once, then reused).

        With ``auto_connect`` (the default) the socket starts connecting at once; without
        it, register its handlers and then ``await socket.connect()``.
        """
        sock = self._socket(nsp, auth, ack_timeout, retries)
        if self.auto_connect and not sock.active:
            sock.connect()
        return sock

    def _socket(
        self, nsp: str, auth: AuthOption, ack_timeout: float | None, retries: int
    ) -> ClientSocket:
        """The socket of ``nsp``, made if needed, never connected here."""
        if not nsp.startswith("/"):
            nsp = "/" + nsp
        sock = self.nsps.get(nsp)
        if sock is None:
            sock = ClientSocket(self, nsp, auth=auth, ack_timeout=ack_timeout, retries=retries)
            self.nsps[nsp] = sock
        return sock

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop the manager runs in (``None`` until it is first opened)."""
        return self._loop

    # -- opening ---------------------------------------------------------------------
    def open(self) -> Manager:
        """Open the Engine.IO connection unless it is open or opening."""
        self._open(None)
        return self

    connect = open

    def _open(self, callback: Any) -> None:
        if self.ready_state in ("open", "opening"):
            return
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._loop is not None and self._loop.is_running():
                raise LocalProtocolError("this Manager runs in another event loop")
            self._loop = loop
        self.ready_state = "opening"
        self._skip_reconnect = False
        self.decoder = make_decoder(self.parser, self._json)
        engine = EngineConnection(
            self.endpoint,
            query=self.query,
            headers=self.extra_headers,
            transports=self.transports,
            upgrade=self.upgrade,
            remember_upgrade=self.remember_upgrade,
            ssl=self._ssl,
            on_message=self._on_data,
            on_close=self._on_engine_close,
        )
        engine.on("ping", self._on_ping)
        self.engine = engine
        self._open_task = loop.create_task(self._run_open(engine, callback))

    def _on_ping(self) -> None:
        self.emit_reserved("ping")

    async def _run_open(self, engine: EngineConnection, callback: Any) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                await engine.open()
        except Exception as exc:
            if engine is not self.engine:
                return
            if isinstance(exc, TimeoutError):
                err = ConnectError("timeout")
            elif isinstance(exc, TransportError):
                err = ConnectError(exc.message, exc.description)
            else:
                if not isinstance(exc, OSError):
                    logger.exception("unexpected error while connecting")
                err = ConnectError("transport error", str(exc))
            err.__cause__ = exc
            engine.close()
            self.engine = None
            self._open_task = None
            self.ready_state = "closed"
            self.emit_reserved("error", err)
            for sock in list(self.nsps.values()):
                if sock.active:
                    sock._on_error(err)
            if callback is not None:
                callback(err)
            else:
                self._maybe_reconnect_on_open()
            return
        self._open_task = None
        if engine is not self.engine:
            engine.close()
            return
        self.ready_state = "open"
        self.emit_reserved("open")
        for sock in list(self.nsps.values()):
            if sock.active:
                sock._on_open()
        if callback is not None:
            callback(None)

    def _maybe_reconnect_on_open(self) -> None:
        if not self.reconnecting and self.reconnection and self.backoff.attempts == 0:
            self._reconnect()

    # -- data ------------------------------------------------------------------------
    def _packet(self, packet: Packet) -> None:
        engine = self.engine
        if engine is None:
            return
        for part in self.encoder.encode(packet):
            engine.send(part)

    def _on_data(self, data: str | bytes) -> None:
        try:
            packet = self.decoder.receive(data)
        except RemoteProtocolError as exc:
            logger.debug("parse error: %s", exc)
            self._on_close("parse error", str(exc))
            return
        if packet is None:
            return
        sock = self.nsps.get(packet.nsp)
        if sock is not None and sock.active:
            sock._on_packet(packet)

    # -- closing and reconnecting ----------------------------------------------------
    def _on_engine_close(self, reason: str, description: str | None) -> None:
        self.engine = None
        self._on_close(reason, description)

    def _on_close(self, reason: str, description: str | None) -> None:
        engine = self.engine
        self.engine = None
        if engine is not None:
            engine.close()
        if self._open_task is not None:
            self._open_task.cancel()
            self._open_task = None
        self.backoff.reset()
        self.ready_state = "closed"
        self.emit_reserved("close", reason, description)
        for sock in list(self.nsps.values()):
            if sock.active:
                sock._on_close(reason, description)
        if self.reconnection and not self._skip_reconnect:
            self._reconnect()

    def _destroy(self) -> None:
        """A socket left: close the connection if no socket is active any more."""
        for sock in self.nsps.values():
            if sock.active:
                return
        self._close()

    def _close(self) -> None:
        self._skip_reconnect = True
        self.reconnecting = False
        if self._reconnect_timer is not None:
            self._reconnect_timer.cancel()
            self._reconnect_timer = None
        self._on_close("forced close", None)

    def disconnect(self) -> None:
        """Close the connection for every namespace; no reconnection.

        Each active socket disconnects first ("io client disconnect" on this side, its
        DISCONNECT packet sent, so the server sees "client namespace disconnect"); the
        last one closes the Engine.IO connection ("forced close", as socket.io-client's
        ``Manager`` closes once no socket is active). See :meth:`EngineConnection.close`
        for how the connection closes.
        """
        active = [sock for sock in self.nsps.values() if sock.active]
        for sock in active:
            sock.disconnect()
        if not active:  # otherwise the last socket closed the connection (one "close")
            self._close()

    close = disconnect

    async def wait_closed(self) -> None:
        """Wait until the closing I/O of closed connections is done (the final POST of a
        polling connection carries the last packets and the close packet)."""
        await wait_closing()

    def _reconnect(self) -> None:
        if self.reconnecting or self._skip_reconnect:
            return
        if self.backoff.attempts >= self.reconnection_attempts:
            self.backoff.reset()
            self.reconnecting = False
            self.emit_reserved("reconnect_failed")
            return
        delay = self.backoff.duration()
        self.reconnecting = True
        loop = self._loop or asyncio.get_running_loop()
        self._reconnect_timer = loop.call_later(delay, self._reconnect_now)

    def _reconnect_now(self) -> None:
        self._reconnect_timer = None
        if self._skip_reconnect:
            return
        self.emit_reserved("reconnect_attempt", self.backoff.attempts)
        if self._skip_reconnect:
            return

        def done(err: ConnectError | None) -> None:
            if err is not None:
                self.reconnecting = False
                self._reconnect()
                self.emit_reserved("reconnect_error", err)
            else:
                attempt = self.backoff.attempts
                self.reconnecting = False
                self.backoff.reset()
                self.emit_reserved("reconnect", attempt)

        self._open(done)

    def __repr__(self) -> str:
        return f"<aiosocketio.client.Manager {self.uri!r} {self.ready_state}>"
