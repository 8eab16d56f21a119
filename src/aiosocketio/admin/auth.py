"""The Admin UI's login: basic auth against a bcrypt hash, and the session stores.

The dashboard sends ``{"username", "password"}`` in the CONNECT ``auth`` payload the first
time, then the session id it was given (``{"sessionId"}``) when it reconnects. A session id
is valid when the store knows it.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Mapping
from typing import Any, Protocol

from aiosocketio.exceptions import ConnectionRefused
from aiosocketio.runtime.events import spawn

__all__ = ["BasicAuth", "InMemoryStore", "RedisStore", "Store", "check_bcrypt_hash"]

_BCRYPT_HASH = re.compile(r"^\$2[abxy]?\$(\d\d)\$[./A-Za-z0-9]{53}$")


def check_bcrypt_hash(value: object) -> str:
    """``value`` if it is a bcrypt hash (``$2a$10$...``, ``$2b$...``, ``$2y$...``).

    Raises:
        ValueError: it is not (Node's message: the ``password`` field must be a valid
            bcrypt hash).
    """
    if not isinstance(value, str) or _BCRYPT_HASH.match(value) is None:
        raise ValueError("the `password` field must be a valid bcrypt hash")
    return value


class Store(Protocol):
    """Where the dashboard's session ids are kept (Node's ``Store``)."""

    async def does_session_exist(self, session_id: str) -> bool:
        """Whether ``session_id`` was saved."""
        ...

    def save_session(self, session_id: str) -> None:
        """Remember ``session_id``."""
        ...


class InMemoryStore:
    """Session ids in this process's memory (the default; Node's ``InMemoryStore``)."""

    def __init__(self) -> None:
        self.sessions: set[str] = set()

    async def does_session_exist(self, session_id: str) -> bool:
        """Whether ``session_id`` was saved."""
        return session_id in self.sessions

    def save_session(self, session_id: str) -> None:
        """Remember ``session_id``."""
        self.sessions.add(session_id)


class RedisStore:
    """Session ids in Redis, shared by the servers of a cluster (Node's ``RedisStore``).

    A dashboard that reconnects to another server keeps its session. The keys are Node's,
    ``<prefix>#<session id>``, set to ``"true"`` with a time to live, so Node and Python
    servers share the sessions as well.

    Args:
        client: a ``redis.asyncio.Redis`` client (or anything with its ``exists`` and
            ``set(key, value, ex=seconds)`` coroutines).
        prefix: the key prefix ("socket.io-admin").
        session_duration: the sessions' time to live in seconds (86400).
    """

    def __init__(
        self, client: Any, *, prefix: str = "socket.io-admin", session_duration: int = 86400
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.session_duration = session_duration

    def key(self, session_id: str) -> str:
        """The Redis key of ``session_id``."""
        return f"{self.prefix}#{session_id}"

    async def does_session_exist(self, session_id: str) -> bool:
        """Whether the key of ``session_id`` is in Redis."""
        return bool(await self.client.exists(self.key(session_id)) == 1)

    def save_session(self, session_id: str) -> None:
        """Write the key of ``session_id`` (in the background, as Node does)."""
        spawn(self.client.set(self.key(session_id), "true", ex=self.session_duration))


def _verify(password: str, hashed: str) -> bool:
    import bcrypt  # the ``admin`` extra; checked when instrument() is called

    try:
        return bool(bcrypt.checkpw(password.encode(), hashed.encode()))
    except ValueError:
        return False


class BasicAuth:
    """The connection middleware of the admin namespace for ``{"type": "basic", ...}``.

    Args:
        options: ``{"type": "basic", "username": ..., "password": <bcrypt hash>}``.
        store: where the session ids go.

    Raises:
        ValueError: the options are not of that shape, or the password is not a bcrypt hash.
        ModuleNotFoundError: ``bcrypt`` is not installed (``pip install aiosocketio[admin]``).
    """

    def __init__(self, options: Mapping[str, Any], store: Store) -> None:
        if options.get("type") != "basic":
            raise ValueError("invalid `auth` option, please check the documentation")
        try:
            import bcrypt  # noqa: F401
        except ModuleNotFoundError as exc:
            raise ModuleNotFoundError(
                "the Admin UI's basic auth needs bcrypt: pip install 'aiosocketio[admin]'"
            ) from exc
        self.username = str(options.get("username", ""))
        self.password_hash = check_bcrypt_hash(options.get("password"))
        self.store = store

    async def __call__(self, socket: Any) -> None:
        """Accept a known session id or the right credentials; refuse the others."""
        auth = socket.handshake.auth
        session_id = auth.get("sessionId")
        if isinstance(session_id, str) and session_id:
            if await self.store.does_session_exist(session_id):
                return
        password = auth.get("password")
        if auth.get("username") == self.username and isinstance(password, str):
            # bcrypt is slow on purpose: keep it off the event loop
            if await asyncio.to_thread(_verify, password, self.password_hash):
                session_id = secrets.token_hex(8)
                self.store.save_session(session_id)
                socket.emit("session", session_id)
                return
        raise ConnectionRefused("invalid credentials")
