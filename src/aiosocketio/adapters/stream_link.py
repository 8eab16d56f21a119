"""``StreamLink``: the Redis stream of the streams adapter, read and written for a server.

The adapters of one server that use the same client and stream share a
:class:`StreamLink`: one reader task (``XREAD BLOCK`` on a connection of its own, from the
last id it saw, handing each entry to the adapter of its namespace) and one ordered writer
(``XADD`` and ``SET`` pipelined in batches, their results handed back in order, so that a
broadcast's local part can run once Redis stored it). When Redis goes away the reader logs
it, retries with a capped backoff from the last id it read (from the beginning if the
stream was recreated) and logs when it reads again. A malformed entry is logged and
skipped. The entries' encoding is :mod:`aiosocketio.protocol.cluster.streams`.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from aiosocketio.adapters.shared_link import SharedLink
from aiosocketio.exceptions import AdapterError, RemoteProtocolError
from aiosocketio.protocol.cluster.streams import decode_entry, entry_text, id_key
from aiosocketio.runtime.tasks import TaskRegistry

__all__ = ["WRITE_BATCH", "StreamConsumer", "StreamLink", "WriteCallback"]

logger = logging.getLogger("aiosocketio.adapters.streams")

WRITE_BATCH = 256
"""Commands per pipeline round trip of the writer."""


class StreamConsumer(Protocol):
    """The adapter of a namespace, as the stream reader hands it entries."""

    def on_message(self, message: Any, offset: str | None = None) -> None:
        """Handle a decoded message stored at ``offset``."""
        ...


WriteCallback = Callable[[Any], None]


class StreamLink(SharedLink):
    """One stream reader and one ordered writer, shared by a server's namespaces.

    Args:
        client: the Redis client (the reader takes a connection of its own from its pool).
        stream: the stream's name.
        read_count: entries per ``XREAD``.
        block_time: seconds an ``XREAD`` blocks.
    """

    __slots__ = (
        "_backoff",
        "_queue",
        "_reader",
        "_reader_client",
        "_start",
        "_tasks",
        "_wakeup",
        "_writer",
        "adapters",
        "block_time",
        "client",
        "offset",
        "read_count",
        "stream",
    )

    def __init__(
        self, client: aioredis.Redis, stream: str, *, read_count: int, block_time: float
    ) -> None:
        super().__init__()
        self.client = client
        self.stream = stream
        self.read_count = read_count
        self.block_time = block_time
        self.adapters: dict[str, StreamConsumer] = {}
        self.offset: str | None = None
        self._queue: collections.deque[tuple[tuple[Any, ...], WriteCallback | None]] = (
            collections.deque()
        )
        self._wakeup = asyncio.Event()
        self._tasks = TaskRegistry("the Redis stream link")
        self._reader: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._reader_client: aioredis.Redis | None = None
        self._start: asyncio.Future[None] | None = None
        self._backoff = 0.05

    @classmethod
    def acquire(
        cls, owner: object, client: aioredis.Redis, stream: str, **options: Any
    ) -> StreamLink:
        """The link of ``owner`` (a server) for ``client`` and ``stream``; :meth:`release` it."""
        return cls._share((id(owner), id(client), stream), lambda: cls(client, stream, **options))

    # -- reading ------------------------------------------------------------------------

    async def start(self) -> None:
        """Start reading (once) after the stream's current last entry.

        Raises:
            AdapterError: Redis cannot be reached.
        """
        if self._start is None:
            self._start = asyncio.ensure_future(self._begin())
        try:
            await asyncio.shield(self._start)
        except AdapterError:
            self._start = None
            raise

    async def _last_id(self) -> str:
        entries = await self.client.xrevrange(self.stream, "+", "-", count=1)
        return entry_text(entries[0][0]) if entries else "0-0"

    async def _begin(self) -> None:
        # Node starts its XREAD at "$"; the last id read here is the same point without
        # the race between the first XREAD and the first messages.
        try:
            self.offset = await self._last_id()
        except (RedisError, OSError) as exc:
            raise AdapterError(f"cannot read the Redis stream {self.stream}: {exc}") from exc
        self._reader_client = self.client.client()
        self._reader = self._tasks.spawn(self._read_loop(), "the Redis stream reader")

    async def _read_loop(self) -> None:
        reader = self._reader_client
        assert reader is not None
        block_ms = max(1, int(self.block_time * 1000))
        lost = False
        while True:
            try:
                if lost:
                    await self._check_offset()
                    logger.warning(
                        "reading the Redis stream %s again from %s", self.stream, self.offset
                    )
                    lost = False
                    self._backoff = 0.05
                reply = await reader.xread(
                    {self.stream: self.offset or "$"}, count=self.read_count, block=block_ms
                )
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                if not lost:
                    logger.warning(
                        "lost the Redis stream %s (%s); will read it again from %s",
                        self.stream,
                        exc,
                        self.offset,
                    )
                lost = True
                await asyncio.sleep(self._backoff)
                self._backoff = min(self._backoff * 2, 1.0)
                continue
            self._handle(reply)

    async def _check_offset(self) -> None:
        """After an outage: a stream that is now behind our offset was recreated."""
        last = await self._last_id()
        if self.offset is not None and id_key(last) < id_key(self.offset):
            logger.warning(
                "the Redis stream %s was recreated (last id %s < %s); reading it from the start",
                self.stream,
                last,
                self.offset,
            )
            self.offset = "0-0"

    def _handle(self, reply: Any) -> None:
        if not reply:
            return
        # RESP2: [[stream, [(id, {field: value}), ...]]]; RESP3: {stream: [[(id, fields)]]}
        streams = reply.values() if isinstance(reply, dict) else (item[1] for item in reply)
        for entries in streams:
            if entries and isinstance(entries[0], list) and len(entries) == 1:
                entries = entries[0]
            for entry_id, fields in entries:
                offset = entry_text(entry_id)
                self.offset = offset
                self.dispatch(offset, fields)

    def dispatch(self, offset: str, fields: Any) -> None:
        """Hand one entry to the adapter of its namespace; a malformed one is logged."""
        if not isinstance(fields, Mapping):
            logger.warning("skipping malformed stream entry %s: no fields", offset)
            return
        nsp = fields.get(b"nsp", fields.get("nsp"))
        if not nsp:
            return  # Node skips entries without a namespace too
        try:
            adapter = self.adapters.get(entry_text(nsp))
            if adapter is None:
                return
            message = decode_entry(fields)
        except (RemoteProtocolError, UnicodeDecodeError) as exc:
            logger.warning("skipping malformed stream entry %s: %s", offset, exc)
            return
        adapter.on_message(message, offset)

    # -- writing ------------------------------------------------------------------------

    def write(self, command: tuple[Any, ...], callback: WriteCallback | None = None) -> None:
        """Queue a command; ``callback(result)`` gets its reply (an exception on failure).

        Commands are sent in order, in pipelined batches, and the callbacks called in order.
        Once the link is closed, nothing is sent: ``callback`` gets an :class:`AdapterError`.
        """
        if self._closed:
            logger.debug("the stream link is closed: %s not sent", command[0])
            if callback is not None:
                callback(AdapterError("the adapter was closed"))
            return
        self._queue.append((command, callback))
        if self._writer is None:
            self._writer = self._tasks.spawn(self._write_loop(), "the Redis stream writer")
        self._wakeup.set()

    async def _write_loop(self) -> None:
        queue = self._queue
        failing = False
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while queue:
                batch = [queue.popleft() for _ in range(min(len(queue), WRITE_BATCH))]
                pipe = self.client.pipeline(transaction=False)
                for command, _ in batch:
                    pipe.execute_command(*command)
                results: list[Any]
                try:
                    results = await pipe.execute(raise_on_error=False)
                except asyncio.CancelledError:
                    raise
                except (RedisError, OSError) as exc:
                    if not failing:
                        logger.warning(
                            "could not write to the Redis stream %s: %s", self.stream, exc
                        )
                    failing = True
                    results = [exc] * len(batch)
                else:
                    if failing:
                        logger.warning("writing to the Redis stream %s again", self.stream)
                    failing = False
                for (_, callback), result in zip(batch, results, strict=True):
                    if callback is None:
                        if isinstance(result, Exception):
                            logger.warning("Redis refused a command: %s", result)
                        continue
                    try:
                        callback(result)
                    except Exception:
                        logger.exception("error in the local part of a cluster operation")

    async def flush(self) -> None:
        """Wait until every queued command was answered (or given up)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def answered(_result: Any) -> None:
            if not done.done():
                done.set_result(None)

        self.write(("PING",), answered)
        await done

    async def close(self) -> None:
        """Send what is queued (briefly), then stop the reader and the writer."""
        if self._writer is not None and self._queue:
            try:
                await asyncio.wait_for(self.flush(), 1)
            except TimeoutError:
                pass
        self._closed = True
        start, self._start = self._start, None
        if start is not None and not start.done():
            start.cancel()
        for task in (self._reader, self._writer):
            # cancel until it is done: a cancellation can be lost in a race
            while task is not None and not task.done():
                task.cancel()
                await asyncio.wait([task], timeout=0.5)
        self._reader = self._writer = None
        reader, self._reader_client = self._reader_client, None
        if reader is not None:
            await reader.aclose()
