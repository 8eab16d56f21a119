"""The Postgres plumbing of :class:`~aiosocketio.adapters.postgres.PostgresAdapter`.

Theory of operation: a :class:`PostgresLink` serves every namespace of one server (as the
Node package's ``PubSubClient`` serves every namespace of one ``createAdapter``):

* **Listening.** One connection of the pool is held for LISTEN, on the channel of each
  namespace (:func:`~aiosocketio.protocol.cluster.postgres.channel_for`). When it is lost
  the link takes another one after 1 to 3 seconds (Node's delay) and LISTENs again; the
  notifications sent in between are lost, as in Node. A ``SELECT 1`` every
  ``keepalive`` seconds finds a connection that died silently.
* **Receiving, in order.** A notification of one of our own adapters is skipped at once
  (before any attachment is read). The others are decoded and handed to the adapter of
  their ``nsp``, in the order they came: a message that waits for its attachment row holds
  back those behind it.
* **Publishing, in order.** Messages are encoded and queued, and one writer sends them on
  one connection of the pool while the queue is not empty: the queued notifications in one
  statement (:data:`NOTIFY_MANY_SQL`, one transaction, delivered in order), cut before a
  payload repeated on its channel (Postgres delivers identical payloads of one transaction
  once) and before a message for the attachment table (INSERT, then its NOTIFY). A failure
  is logged (the first, then at most every 10 seconds) and what failed is dropped, as in
  Node.
* **Cleanup.** Every ``cleanup_interval`` seconds the old attachments are deleted.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import random
from collections.abc import Callable
from typing import Any

import asyncpg

from aiosocketio.adapters.pump import MALFORMED
from aiosocketio.adapters.shared_link import SharedLink
from aiosocketio.exceptions import SocketIOError
from aiosocketio.protocol.cluster.postgres import (
    NOTIFY_SQL,
    Attachment,
    Notification,
    attachment_header,
    attachment_id,
    channel_for,
    cleanup_sql,
    decode_attachment,
    encode_message,
    insert_sql,
    read_notification,
    select_sql,
)
from aiosocketio.runtime.tasks import TaskRegistry

__all__ = ["MAX_QUEUE", "MessageRoute", "PostgresLink", "send_message"]

logger = logging.getLogger("aiosocketio.adapters.postgres")

MAX_QUEUE = 100_000
"""Messages kept while Postgres cannot be reached; older ones are dropped first."""

BATCH = 256
"""Notifications sent in one statement (one transaction, delivered in order)."""

NOTIFY_MANY_SQL = (
    "SELECT pg_notify(c, p) FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(c, p, n) "
    "ORDER BY n"
)
"""Several notifications in one round trip, in order (``$1`` the channels, ``$2`` the payloads)."""

MessageRoute = Callable[[dict[str, Any]], None]
"""Takes a decoded message of one namespace (the adapter's ``on_message``)."""

# what a query against a lost, refusing or closed server (or pool) raises
_DB_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


async def send_message(
    conn: Any, message: dict[str, Any], channel: str, table_name: str, threshold: int
) -> None:
    """Send one message on ``conn``: NOTIFY, or INSERT into the table then NOTIFY its id.

    Raises:
        LocalProtocolError: the message cannot be encoded.
        Exception: what the driver raises when the query fails.
    """
    encoded = encode_message(message, threshold)
    if isinstance(encoded, Attachment):
        row_id = await conn.fetchval(insert_sql(table_name), encoded.payload)
        await conn.execute(NOTIFY_SQL, channel, attachment_header(encoded, row_id))
    else:
        await conn.execute(NOTIFY_SQL, channel, encoded.payload)


class PostgresLink(SharedLink):
    """One LISTEN connection and one ordered writer for the namespaces of one server.

    Args:
        pool: an ``asyncpg.Pool``.
        channel_prefix: the prefix of the notification channels.
        table_name: the attachment table.
        payload_threshold: bytes of JSON from which a message goes through the table.
        cleanup_interval: seconds between two deletions of old attachments.
    """

    __slots__ = (
        "_active",
        "_channels",
        "_cleanup",
        "_conn",
        "_conn_lock",
        "_dropped",
        "_failing",
        "_inbox",
        "_inbox_task",
        "_last_warning",
        "_listened",
        "_listener",
        "_queue",
        "_routes",
        "_sending",
        "_tasks",
        "_uids",
        "_wakeup",
        "_writer",
        "channel_prefix",
        "cleanup_interval",
        "keepalive",
        "payload_threshold",
        "pool",
        "table_name",
    )

    def __init__(
        self,
        pool: Any,
        *,
        channel_prefix: str,
        table_name: str,
        payload_threshold: int,
        cleanup_interval: float,
    ) -> None:
        super().__init__()
        self.pool = pool
        self.channel_prefix = channel_prefix
        self.table_name = table_name
        self.payload_threshold = payload_threshold
        self.cleanup_interval = cleanup_interval
        self.keepalive = 15.0
        self._tasks = TaskRegistry("the Postgres link")
        self._routes: dict[str, MessageRoute] = {}
        self._uids: set[str] = set()
        self._channels: dict[str, str] = {}  # channel -> namespace
        self._active: set[str] = set()  # the channels LISTENed on the current connection
        self._listened = asyncio.Condition()
        self._conn: Any = None
        self._conn_lock = asyncio.Lock()
        self._listener: asyncio.Task[None] | None = None
        self._cleanup: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._queue: collections.deque[tuple[str, Notification | Attachment]] = collections.deque()
        self._wakeup = asyncio.Event()
        self._sending = False
        self._dropped = 0
        self._failing = False
        self._last_warning = 0.0
        self._inbox: collections.deque[asyncio.Future[dict[str, Any] | None]] = collections.deque()
        self._inbox_task: asyncio.Task[None] | None = None

    @classmethod
    def acquire(cls, owner: object, pool: Any, **settings: Any) -> PostgresLink:
        """The link of ``owner`` (a server) for this pool and settings; :meth:`release` it."""
        key = (id(owner), id(pool), settings["channel_prefix"], settings["table_name"])
        return cls._share(key, lambda: cls(pool, **settings))

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    @property
    def listening(self) -> bool:
        """Whether the LISTEN connection is up."""
        return self._conn is not None

    # -- namespaces ---------------------------------------------------------------------

    async def add_namespace(
        self, nsp: str, uid: str, route: MessageRoute, timeout: float = 10.0
    ) -> None:
        """Route the messages of ``nsp`` to ``route`` (skipping ``uid``'s) and LISTEN.

        Returns once the channel is listened to, or after ``timeout`` seconds (the link
        keeps trying in the background; a warning is logged).
        """
        self._routes[nsp] = route
        self._uids.add(uid)
        channel = channel_for(self.channel_prefix, nsp)
        self._channels[channel] = nsp
        if self._closed:
            return
        self._start_tasks()
        async with self._conn_lock:
            conn = self._conn
            if conn is not None and channel not in self._active:
                try:
                    await conn.add_listener(channel, self._on_notification)
                    self._active.add(channel)
                except _DB_ERRORS as exc:  # the listener reconnects and LISTENs again
                    logger.warning("LISTEN %s failed: %s", channel, exc)
        try:
            async with self._listened:
                await asyncio.wait_for(
                    self._listened.wait_for(lambda: channel in self._active), timeout
                )
        except TimeoutError:
            logger.warning("not listening on Postgres yet (%s); still trying", channel)

    def remove_namespace(self, nsp: str, uid: str) -> None:
        """Stop routing ``nsp`` (its channel is left when the link closes)."""
        self._routes.pop(nsp, None)
        self._uids.discard(uid)

    def _start_tasks(self) -> None:
        if self._listener is None:
            self._listener = self._tasks.spawn(self._listen_loop(), "the Postgres listener")
            self._writer = self._tasks.spawn(self._write_loop(), "the Postgres publisher")
            if self.cleanup_interval > 0:
                self._cleanup = self._tasks.spawn(self._cleanup_loop(), "the Postgres cleanup")

    # -- listening ----------------------------------------------------------------------

    async def _listen_loop(self) -> None:
        failures = 0
        while not self._closed:
            try:
                await self._listen_once()
                failures = 0
            except asyncio.CancelledError:
                raise
            except _DB_ERRORS as exc:  # warned once; the retries are logged at debug level
                failures += 1
                log = logger.warning if failures == 1 else logger.debug
                log("cannot LISTEN on Postgres (%s); retrying", exc)
            except Exception:  # keep listening whatever the driver throws
                logger.exception("the Postgres LISTEN connection failed")
            if self._closed:
                return
            delay = 2.0 * (0.5 + random.random())  # Node: 1 to 3 seconds
            await asyncio.sleep(delay)

    async def _listen_once(self) -> None:
        conn = await self.pool.acquire()
        lost = asyncio.Event()

        def on_lost(_conn: Any) -> None:
            lost.set()

        conn.add_termination_listener(on_lost)
        try:
            async with self._conn_lock:
                self._active = set()
                for channel in sorted(self._channels):
                    await conn.add_listener(channel, self._on_notification)
                    self._active.add(channel)
                self._conn = conn
            async with self._listened:
                self._listened.notify_all()
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), self.keepalive)
                if not lost.is_set():
                    async with self._conn_lock:
                        await conn.execute("SELECT 1", timeout=self.keepalive)
            logger.warning("the Postgres LISTEN connection was lost; reconnecting")
        finally:
            self._conn = None
            active, self._active = self._active, set()
            await self._give_back(conn, active, on_lost)

    async def _give_back(self, conn: Any, channels: set[str], on_lost: Callable[..., None]) -> None:
        """UNLISTEN and release the LISTEN connection (terminate it if that fails)."""
        with contextlib.suppress(Exception):  # a lost connection may be detached already
            conn.remove_termination_listener(on_lost)
        try:
            if not conn.is_closed():
                for channel in channels:
                    await asyncio.wait_for(conn.remove_listener(channel, self._on_notification), 2)
            await asyncio.wait_for(self.pool.release(conn), 5)
        except Exception as exc:
            logger.debug("closing the LISTEN connection: %s", exc)
            with contextlib.suppress(Exception):
                conn.terminate()
                await asyncio.wait_for(self.pool.release(conn), 5)

    def _on_notification(self, _conn: Any, _pid: int, channel: str, payload: str) -> None:
        try:
            message = read_notification(payload)
            if message.get("uid") in self._uids:
                return  # ours (Node reads its own attachments; we need not)
            row_id = attachment_id(message)
        except MALFORMED as exc:
            logger.warning("ignoring a malformed notification on %s: %s", channel, exc)
            return
        if row_id is None:
            self._fill_nsp(message, channel)
            if not self._inbox:
                self._deliver(message)
                return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any] | None] = loop.create_future()
        if row_id is None:
            future.set_result(message)
        else:
            self._tasks.spawn(self._fetch(row_id, channel, future), "a Postgres attachment")
        self._inbox.append(future)
        if self._inbox_task is None:
            self._inbox_task = self._tasks.spawn(self._drain_inbox(), "the Postgres inbox")

    async def _fetch(
        self, row_id: int, channel: str, future: asyncio.Future[dict[str, Any] | None]
    ) -> None:
        try:
            data = await self.pool.fetchval(select_sql(self.table_name), row_id)
            message: dict[str, Any] | None = decode_attachment(data)
            self._fill_nsp(message, channel)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except SocketIOError as exc:
            logger.warning("ignoring attachment %d on %s: %s", row_id, channel, exc)
            message = None
        except _DB_ERRORS as exc:
            logger.warning("could not read attachment %d on %s: %s", row_id, channel, exc)
            message = None
        if not future.done():
            future.set_result(message)

    async def _drain_inbox(self) -> None:
        inbox = self._inbox
        try:
            while inbox:
                message = await inbox[0]
                inbox.popleft()
                if message is not None:
                    self._deliver(message)
        finally:
            self._inbox_task = None

    def _fill_nsp(self, message: Any, channel: str) -> None:
        """@socket.io/postgres-emitter 0.1 sends no ``nsp``: the channel tells it."""
        if isinstance(message, dict) and "nsp" not in message and channel in self._channels:
            message["nsp"] = self._channels[channel]

    def _deliver(self, message: dict[str, Any]) -> None:
        nsp = message.get("nsp")
        route = self._routes.get(nsp) if isinstance(nsp, str) else None
        if route is not None:
            route(message)

    # -- publishing ---------------------------------------------------------------------

    def publish(self, message: dict[str, Any]) -> None:
        """Queue a message for every server of its namespace; sent in order.

        A message that cannot be encoded is logged and dropped here.
        """
        channel = channel_for(self.channel_prefix, str(message.get("nsp")))
        try:
            encoded = encode_message(message, self.payload_threshold)
        except SocketIOError as exc:
            logger.warning("could not encode a cluster message: %s", exc)
            return
        queue = self._queue
        if len(queue) >= MAX_QUEUE:
            queue.popleft()
            self._dropped += 1
        queue.append((channel, encoded))
        self._wakeup.set()
        if self._writer is None and not self._closed:
            self._start_tasks()

    async def _write_loop(self) -> None:
        queue = self._queue
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            if not queue:
                continue
            self._sending = True
            count = 0
            try:
                async with self.pool.acquire() as conn:
                    while queue:
                        count = self._batch_size()
                        await self._send_batch(conn, count)
                        for _ in range(count):
                            queue.popleft()
                        count = 0
                        if self._failing:
                            logger.warning(
                                "publishing to Postgres again (%d message(s) were lost)",
                                self._dropped,
                            )
                            self._failing = False
                            self._dropped = 0
            except asyncio.CancelledError:
                raise
            except _DB_ERRORS as exc:
                for _ in range(min(max(count, 1), len(queue))):  # what failed is dropped
                    queue.popleft()
                    self._dropped += 1
                self._publish_failed(exc)
                self._wakeup.set()
                await asyncio.sleep(0.1)
            finally:
                self._sending = False

    def _batch_size(self) -> int:
        """How many queued messages go in the next statement: notifications up to the first
        attachment or repeated payload (one transaction delivers identical payloads once)."""
        queue = self._queue
        if isinstance(queue[0][1], Attachment):
            return 1
        seen: set[tuple[str, str]] = set()
        for i, (channel, encoded) in enumerate(queue):
            if i == BATCH or isinstance(encoded, Attachment):
                return i
            key = (channel, encoded.payload)
            if key in seen:
                return i
            seen.add(key)
        return len(queue)

    async def _send_batch(self, conn: Any, count: int) -> None:
        queue = self._queue
        channel, encoded = queue[0]
        if isinstance(encoded, Attachment):
            row_id = await conn.fetchval(insert_sql(self.table_name), encoded.payload)
            await conn.execute(NOTIFY_SQL, channel, attachment_header(encoded, row_id))
        elif count == 1:
            await conn.execute(NOTIFY_SQL, channel, encoded.payload)
        else:
            items = [queue[i] for i in range(count)]
            channels = [c for c, _ in items]
            payloads = [e.payload for _, e in items if isinstance(e, Notification)]
            await conn.execute(NOTIFY_MANY_SQL, channels, payloads)

    def _publish_failed(self, exc: BaseException) -> None:
        """Log the first failure, then at most once every 10 seconds."""
        now = asyncio.get_running_loop().time()
        if not self._failing or now - self._last_warning >= 10:
            logger.warning(
                "could not publish to Postgres (%s); %d message(s) lost so far", exc, self._dropped
            )
            self._last_warning = now
        self._failing = True

    async def flush(self) -> None:
        """Wait until every queued message was sent (or given up)."""
        while self._queue or self._sending:
            await asyncio.sleep(0.001)

    # -- cleanup ------------------------------------------------------------------------

    async def _cleanup_loop(self) -> None:
        query = cleanup_sql(self.table_name, self.cleanup_interval)
        while True:
            await asyncio.sleep(self.cleanup_interval)
            try:
                await self.pool.execute(query)
            except asyncio.CancelledError:
                raise
            except _DB_ERRORS as exc:
                logger.warning("could not delete the old Postgres attachments: %s", exc)

    # -- closing ------------------------------------------------------------------------

    async def close(self) -> None:
        """Send what is queued (briefly), stop listening and stop the tasks."""
        self._closed = True
        if self._writer is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.flush(), 2)
        for name in ("_writer", "_cleanup", "_inbox_task", "_listener"):
            task: asyncio.Task[None] | None = getattr(self, name)
            setattr(self, name, None)
            while task is not None and not task.done():
                task.cancel()
                await asyncio.wait([task], timeout=0.5)
        await self._tasks.cancel_all()
        self._inbox.clear()
