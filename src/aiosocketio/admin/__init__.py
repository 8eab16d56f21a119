"""The Socket.IO Admin UI (@socket.io/admin-ui 0.5) for aiosocketio servers.

::

    from aiosocketio.admin import instrument

    instrument(io, auth={"type": "basic", "username": "admin", "password": bcrypt_hash})

Then open the dashboard (https://admin.socket.io, or the static UI shipped in the npm
package) and connect it to the server's URL. Basic auth needs ``bcrypt``:
``pip install 'aiosocketio[admin]'``.
"""

from __future__ import annotations

from aiosocketio.admin.auth import InMemoryStore, RedisStore, Store
from aiosocketio.admin.instrument import STATS_INTERVAL, Instrumentation, instrument

__all__ = [
    "STATS_INTERVAL",
    "InMemoryStore",
    "Instrumentation",
    "RedisStore",
    "Store",
    "instrument",
]
