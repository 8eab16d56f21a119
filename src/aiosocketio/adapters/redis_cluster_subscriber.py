"""The subscriber connections of a Redis link on a Redis Cluster.

Theory of operation: a sharded channel can only be subscribed to on the master that owns
its slot, so :class:`ClusterSubscriber` holds one connection per master that owns one of
its sharded channels (and one more master for the classic SUBSCRIBE/PSUBSCRIBE channels,
which a cluster delivers on every node). Each channel has a *home*, the node it was
subscribed on. A channel loses its home when

* its node sends ``sunsubscribe`` on its own: the slot moved to another node (a
  migration, or a failover that made a replica the owner);
* its node answers ``MOVED``: the map we routed with was stale;
* its node's connection is lost (the node died).

Homeless channels are routed again by one router task: it reads the slot map again
(:meth:`~aiosocketio.adapters.redis_cluster.ClusterNodes.refresh`), subscribes each channel
on its owner, and retries with a capped backoff while the owner cannot be reached (a
failover takes the cluster's ``cluster-node-timeout`` and an election). Messages published
while a channel is homeless are lost, as they are while a single Redis is down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from aiosocketio.adapters.redis_cluster import ClusterNodes
from aiosocketio.adapters.redis_connection import Watchdog, open_connection
from aiosocketio.adapters.redis_subscriber import MessageHandler
from aiosocketio.exceptions import AdapterError, RemoteProtocolError
from aiosocketio.protocol.redis_cluster import Address, key_slot, parse_redirect
from aiosocketio.protocol.resp import RespError, RespParser, encode_command
from aiosocketio.runtime.tasks import TaskRegistry

__all__ = ["ClusterSubscriber"]

logger = logging.getLogger("aiosocketio.adapters.redis")

Key = tuple[str, str]
"""``(kind, name)``: kind ``"c"`` (channel), ``"p"`` (pattern) or ``"s"`` (sharded)."""

_CONFIRMATIONS = {b"subscribe": "c", b"psubscribe": "p", b"ssubscribe": "s"}


class _Session:
    """One subscriber connection to one node, and the sharded channels homed there."""

    __slots__ = ("address", "classic", "leaving", "names", "task", "writer")

    def __init__(self, address: Address) -> None:
        self.address = address
        self.names: set[str] = set()
        self.leaving: set[str] = set()  # SUNSUBSCRIBE sent, confirmation not seen yet
        self.classic = False
        self.writer: asyncio.StreamWriter | None = None
        self.task: asyncio.Task[None] | None = None

    def send(self, *commands: bytes) -> None:
        if self.writer is not None and commands:
            self.writer.write(b"".join(commands))


class ClusterSubscriber:
    """Subscriptions on a Redis Cluster, each on the node that serves it, kept there.

    The same interface as :class:`~aiosocketio.adapters.redis_subscriber.Subscriber`.

    Args:
        nodes: the cluster (its slot map and connection settings).
        tasks: where the router and connection tasks run (the link's registry).

    Attributes:
        channels: the handler of each subscribed channel.
        patterns: the handler of each subscribed pattern.
        shard_channels: the handler of each subscribed sharded channel.
        health_interval: seconds of silence before a connection is pinged.
    """

    __slots__ = (
        "_backoff",
        "_classic",
        "_closed",
        "_confirmed",
        "_failures",
        "_homeless",
        "_homes",
        "_lost",
        "_nodes",
        "_router",
        "_sessions",
        "_stale",
        "_tasks",
        "_unconfirmed",
        "_waiters",
        "_wakeup",
        "channels",
        "health_interval",
        "patterns",
        "shard_channels",
    )

    def __init__(self, nodes: ClusterNodes, tasks: TaskRegistry) -> None:
        self._nodes = nodes
        self._tasks = tasks
        self.health_interval = 15.0
        self.channels: dict[str, MessageHandler] = {}
        self.patterns: dict[str, MessageHandler] = {}
        self.shard_channels: dict[str, MessageHandler] = {}
        self._sessions: dict[Address, _Session] = {}
        self._homes: dict[str, _Session] = {}
        self._homeless: set[str] = set()
        self._classic: _Session | None = None
        self._confirmed: set[Key] = set()
        self._waiters: dict[Key, list[asyncio.Future[None]]] = {}
        self._wakeup = asyncio.Event()
        self._router: asyncio.Task[None] | None = None
        self._unconfirmed: set[str] = set()
        self._backoff = 0.05
        self._failures = 0
        self._stale = False
        self._lost = False
        self._closed = False

    # -- the interface of Subscriber ----------------------------------------------------

    async def subscribe(
        self,
        handler: MessageHandler,
        *,
        channels: Iterable[str] = (),
        patterns: Iterable[str] = (),
        shard_channels: Iterable[str] = (),
        timeout: float = 10.0,
        wait: bool = True,
    ) -> None:
        """Route these channels to ``handler`` and subscribe to them where they live.

        With ``wait``, return once Redis confirmed the subscriptions.

        Raises:
            AdapterError: not subscribed within ``timeout`` seconds (the subscriber keeps
                trying in the background), or the subscriber was closed.
        """
        channels, patterns, shard_channels = list(channels), list(patterns), list(shard_channels)
        classic: list[bytes] = []
        for command, names, table in (
            ("SUBSCRIBE", channels, self.channels),
            ("PSUBSCRIBE", patterns, self.patterns),
        ):
            new = [name for name in names if name not in table]
            table.update(dict.fromkeys(names, handler))
            if new:
                classic.append(encode_command(command, *new))
        for name in shard_channels:
            if name not in self.shard_channels:
                self._homeless.add(name)
            self.shard_channels[name] = handler
        if classic and self._classic is not None:
            self._classic.send(*classic)
        if self._router is None:
            self._router = self._tasks.spawn(self._route_loop(), "the Redis Cluster router")
        self._wakeup.set()
        if not wait:
            return
        loop = asyncio.get_running_loop()
        waiters: list[asyncio.Future[None]] = []
        for kind, names in (("c", channels), ("p", patterns), ("s", shard_channels)):
            for name in names:
                if (kind, name) not in self._confirmed:
                    future: asyncio.Future[None] = loop.create_future()
                    self._waiters.setdefault((kind, name), []).append(future)
                    waiters.append(future)
        try:
            if waiters:
                await asyncio.wait_for(asyncio.gather(*waiters), timeout)
        except TimeoutError:
            raise AdapterError("could not subscribe to the Redis Cluster") from None
        if self._closed:
            raise AdapterError("the adapter was closed")

    async def unsubscribe(
        self,
        handler: MessageHandler,
        *,
        channels: Iterable[str] = (),
        patterns: Iterable[str] = (),
        shard_channels: Iterable[str] = (),
    ) -> None:
        """Stop routing these channels to ``handler`` and unsubscribe from them.

        A channel that another handler took over in the meantime is left alone.
        """
        for command, kind, names, table in (
            ("UNSUBSCRIBE", "c", channels, self.channels),
            ("PUNSUBSCRIBE", "p", patterns, self.patterns),
        ):
            gone = [name for name in names if table.get(name) == handler]
            for name in gone:
                del table[name]
                self._confirmed.discard((kind, name))
            if gone and self._classic is not None:
                self._classic.send(encode_command(command, *gone))
        for name in shard_channels:
            if self.shard_channels.get(name) != handler:
                continue
            del self.shard_channels[name]
            self._confirmed.discard(("s", name))
            self._unconfirmed.discard(name)
            self._homeless.discard(name)
            session = self._homes.pop(name, None)
            if session is not None:
                session.names.discard(name)
                session.leaving.add(name)
                session.send(encode_command("SUNSUBSCRIBE", name))

    def stop_waiting(self) -> None:
        """The link is closing: whoever waits for a subscription stops waiting."""
        self._closed = True
        self._wakeup.set()
        for futures in self._waiters.values():
            for future in futures:
                if not future.done():
                    future.set_result(None)
        self._waiters.clear()

    async def close(self) -> None:
        """Stop the router and close every connection."""
        self.stop_waiting()
        tasks = [self._router] + [s.task for s in self._sessions.values()]
        self._router = None
        for task in tasks:
            # cancel until it is done: a cancellation can be lost in a race (see Watchdog)
            while task is not None and not task.done():
                task.cancel()
                await asyncio.wait([task], timeout=0.5)
        await self._nodes.close()

    # -- routing ------------------------------------------------------------------------

    async def _route_loop(self) -> None:
        while not self._closed:
            await self._wakeup.wait()
            self._wakeup.clear()
            if self._failures:
                # a node could not be reached: it may be failing over, do not spin
                self._failures = 0
                await asyncio.sleep(self._backoff)
                self._backoff = min(self._backoff * 2, 0.5)
            if self._closed:
                return
            try:
                if self._stale:
                    self._stale = False
                    slots = await self._nodes.refresh()
                else:
                    slots = await self._nodes.ready()
            except ConnectionError as exc:
                self._fail(f"cannot read the slot map ({exc})")
                self._stale = True
                self._failures += 1
                self._wakeup.set()
                continue
            if self._classic is None and (self.channels or self.patterns):
                self._classic = self._session(self._nodes.classic_node())
                self._classic.classic = True
                self._classic.send(*self._classic_commands())
            for name in list(self._homeless):
                owner = slots.owner(key_slot(name))
                if owner is None:  # not served (a failover is under way): later
                    self._stale = True
                    self._failures += 1
                    self._wakeup.set()
                    continue
                self._homeless.discard(name)
                session = self._session(owner)
                session.names.add(name)
                session.leaving.discard(name)
                self._homes[name] = session
                self._unconfirmed.add(name)
                session.send(encode_command("SSUBSCRIBE", name))

    def _fail(self, reason: str) -> None:
        if not self._lost:
            logger.warning("lost Redis Cluster subscriptions (%s); resubscribing", reason)
        self._lost = True

    def _rehome(self, name: str, stale: bool = True) -> None:
        """``name`` lost its home: route it again (``stale``: read the slot map first)."""
        session = self._homes.pop(name, None)
        if session is not None:
            session.names.discard(name)
        self._confirmed.discard(("s", name))
        self._unconfirmed.discard(name)
        if name in self.shard_channels:
            self._homeless.add(name)
            self._stale = self._stale or stale
            self._wakeup.set()

    def _session(self, address: Address) -> _Session:
        session = self._sessions.get(address)
        if session is None:
            session = self._sessions[address] = _Session(address)
            session.task = self._tasks.spawn(self._run(session), "a Redis Cluster subscriber")
        return session

    def _classic_commands(self) -> list[bytes]:
        out = []
        if self.channels:
            out.append(encode_command("SUBSCRIBE", *self.channels))
        if self.patterns:
            out.append(encode_command("PSUBSCRIBE", *self.patterns))
        return out

    # -- one connection -----------------------------------------------------------------

    async def _run(self, session: _Session) -> None:
        watchdog: Watchdog | None = None
        reason = "the connection was closed"
        try:
            reader, writer = await open_connection(self._nodes.params_for(session.address))
            commands = [encode_command("SSUBSCRIBE", name) for name in session.names]
            if session.classic:
                commands += self._classic_commands()
            session.writer = writer
            session.send(*commands)
            watchdog = Watchdog(writer, self.health_interval)
            parser = RespParser()
            while True:
                try:
                    data = await reader.read(1 << 16)
                finally:
                    watchdog.activity()
                if not data:
                    if watchdog.fired:
                        reason = "Redis did not answer a PING"
                    break
                for reply in parser.feed(data):
                    self._receive(session, reply)
        except (OSError, TimeoutError, RemoteProtocolError) as exc:
            reason = str(exc) or type(exc).__name__
        finally:
            if watchdog is not None:
                watchdog.stop()
            if session.writer is not None:
                session.writer.close()
                session.writer = None
            self._session_lost(session, reason)

    def _session_lost(self, session: _Session, reason: str) -> None:
        if self._sessions.get(session.address) is session:
            del self._sessions[session.address]
        if self._closed:
            return
        if session.names or session.classic:
            self._fail(f"{session.address[0]}:{session.address[1]}: {reason}")
        for name in list(session.names):
            self._rehome(name)
        if session is self._classic:
            self._classic = None
            self._nodes.classic_failed()
            self._confirmed -= {k for k in self._confirmed if k[0] != "s"}
            self._wakeup.set()
        # the node may be gone for good: read the map again before routing to it
        self._stale = True
        self._failures += 1
        self._wakeup.set()

    def _receive(self, session: _Session, reply: object) -> None:
        if not isinstance(reply, list) or not reply:
            if isinstance(reply, RespError):
                self._refused(session, reply)
            return
        kind = reply[0]
        if kind == b"smessage" or kind == b"message":
            if len(reply) == 3:
                table = self.shard_channels if kind == b"smessage" else self.channels
                _dispatch(table, reply[1], reply[1], reply[2])
        elif kind == b"pmessage":
            if len(reply) == 4:
                _dispatch(self.patterns, reply[1], reply[2], reply[3])
        elif kind in _CONFIRMATIONS and len(reply) > 1 and isinstance(reply[1], bytes):
            self._confirm((_CONFIRMATIONS[kind], reply[1].decode("utf-8", "replace")))
        elif kind == b"sunsubscribe" and len(reply) > 1 and isinstance(reply[1], bytes):
            name = reply[1].decode("utf-8", "replace")
            if name in session.leaving:
                session.leaving.discard(name)  # ours
            elif self._homes.get(name) is session:
                # Redis dropped it: its slot moved to another node
                logger.info("the slot of %s moved; subscribing where it lives now", name)
                self._rehome(name)

    def _confirm(self, key: Key) -> None:
        self._confirmed.add(key)
        for future in self._waiters.pop(key, ()):
            if not future.done():
                future.set_result(None)
        if key[0] == "s":
            self._unconfirmed.discard(key[1])
        if self._lost and not self._homeless and not self._unconfirmed:
            logger.warning("resubscribed to the Redis Cluster")
            self._lost = False
            self._backoff = 0.05

    def _refused(self, session: _Session, error: RespError) -> None:
        redirect = parse_redirect(error)
        if redirect is None:
            if error.startswith(("CLUSTERDOWN", "TRYAGAIN")):
                # the cluster is failing over: try again (later) what is not confirmed yet
                self._fail(str(error))
                self._failures += 1
                for name in [n for n in session.names if n in self._unconfirmed]:
                    self._rehome(name)
            else:
                logger.warning("Redis refused a subscription: %s", error)
            return
        # SSUBSCRIBE on a node that does not own the slot (our map was stale)
        self._nodes.slots.move(redirect.slot, redirect.address)
        for name in [n for n in session.names if key_slot(n) == redirect.slot]:
            self._rehome(name, stale=False)


def _dispatch(table: dict[str, MessageHandler], key: bytes, channel: bytes, data: object) -> None:
    handler = table.get(key.decode("utf-8", "replace"))
    if handler is None or not isinstance(data, bytes):
        return
    try:
        handler(channel.decode("utf-8", "replace"), data)
    except Exception:
        logger.exception("error while handling a message on %s", channel)
