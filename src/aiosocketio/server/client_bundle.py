"""Serving the official browser client under the server's path (Node's ``serveClient``).

Node's socket.io serves ``/socket.io/socket.io.js`` (and the minified, msgpack and ESM
builds, with their source maps) from the client bundle it depends on. aiosocketio does not
ship that JavaScript; :class:`ClientBundle` serves it from an installed copy of the npm
package ``socket.io-client`` (its ``dist`` folder), with Node's headers: ``ETag`` (the
package version, quoted), ``304`` for a matching ``If-None-Match`` (strong or weak),
``Cache-Control: public, max-age=0``, ``application/javascript`` or, for maps,
``application/json``, and gzip or deflate when the client accepts them (Node also offers
brotli; the standard library has none, so a client that accepts ``br`` and ``gzip`` gets
gzip). The files are read once, when the bundle is made, so no request blocks the loop.

:class:`aiosocketio.server.client_loader.ClientFiles` puts a loader script in front of it,
which falls back to the official CDN when there is no installed copy.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Mapping
from pathlib import Path

__all__ = ["CLIENT_FILES", "Answer", "ClientBundle"]

#: The files Node serves under its path, by name.
CLIENT_FILES = frozenset(
    {
        "socket.io.js",
        "socket.io.js.map",
        "socket.io.min.js",
        "socket.io.min.js.map",
        "socket.io.msgpack.min.js",
        "socket.io.msgpack.min.js.map",
        "socket.io.esm.min.js",
        "socket.io.esm.min.js.map",
    }
)

_PACKAGE_DIRS = (
    Path("node_modules") / "socket.io-client" / "dist",
    Path("node_modules") / "socket.io" / "client-dist",
)

Answer = tuple[int, list[tuple[str, str]], bytes]


def _accepted(header: str) -> set[str]:
    """The content codings an ``Accept-Encoding`` value accepts (q > 0), lower case."""
    accepted: set[str] = set()
    for item in header.split(","):
        name, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if name and quality > 0:
            accepted.add(name.strip().lower())
    return accepted


class ClientBundle:
    """The client's dist files, read once, answered as Node answers them.

    Args:
        dist: the ``dist`` folder of the npm package ``socket.io-client`` (or the
            ``client-dist`` folder of the package ``socket.io``).

    Raises:
        FileNotFoundError: ``dist`` holds none of the client files.
    """

    def __init__(self, dist: str | Path) -> None:
        self.dist = Path(dist)
        self.files: dict[str, bytes] = {}
        for name in sorted(CLIENT_FILES):
            path = self.dist / name
            if path.is_file():
                self.files[name] = path.read_bytes()
        if not self.files:
            raise FileNotFoundError(f"no socket.io client files in {self.dist}")
        self.version = _package_version(self.dist.parent / "package.json")
        self.etag = f'"{self.version}"'
        self._compressed: dict[tuple[str, str], bytes] = {}

    @classmethod
    def locate(cls, start: str | Path | None = None) -> ClientBundle:
        """Find an installed client below ``start`` (the working directory by default) or
        one of its parents, as ``node_modules/socket.io-client/dist``.

        Raises:
            FileNotFoundError: no installed client was found; the message says how to
                install one or where to point ``client_dist``.
        """
        found = cls.find(start)
        if found is not None:
            return found
        raise FileNotFoundError(
            "serve_client=True needs the browser client: run `npm install socket.io-client` "
            "in the project (or a parent folder), or pass client_dist='path/to/dist'"
        )

    @classmethod
    def find(cls, start: str | Path | None = None) -> ClientBundle | None:
        """Like :meth:`locate`, but ``None`` when no installed client was found."""
        here = Path(start) if start is not None else Path.cwd()
        for folder in (here, *here.resolve().parents):
            for relative in _PACKAGE_DIRS:
                candidate = folder / relative
                if (candidate / "socket.io.min.js").is_file():
                    return cls(candidate)
        return None

    def answer(self, filename: str, headers: Mapping[str, str]) -> Answer | None:
        """The answer to a GET for ``filename``, or ``None`` if it is not a client file.

        Args:
            filename: the request path below the server's path, without the query.
            headers: the request headers (lower-case names).
        """
        body = self.files.get(filename)
        if body is None:
            return None
        if headers.get("if-none-match") in (self.etag, "W/" + self.etag):
            return 304, [], b""
        kind = "json" if filename.endswith(".map") else "javascript"
        out = [
            ("Cache-Control", "public, max-age=0"),
            ("Content-Type", f"application/{kind}; charset=utf-8"),
            ("ETag", self.etag),
        ]
        accepted = _accepted(headers.get("accept-encoding", ""))
        for coding in ("gzip", "deflate"):
            if coding in accepted:
                out.append(("Content-Encoding", coding))
                return 200, out, self._encoded(filename, coding, body)
        return 200, out, body

    def _encoded(self, filename: str, coding: str, body: bytes) -> bytes:
        key = (filename, coding)
        encoded = self._compressed.get(key)
        if encoded is None:
            if coding == "gzip":
                encoded = gzip.compress(body, compresslevel=6, mtime=0)
            else:
                encoded = zlib.compress(body, 6)
            self._compressed[key] = encoded
        return encoded


def _package_version(package_json: Path) -> str:
    try:
        version = json.loads(package_json.read_text())["version"]
    except (OSError, ValueError, KeyError, TypeError):
        return "0.0.0"
    return str(version)
