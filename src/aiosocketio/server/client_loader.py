"""The browser client for every page: ``<script src="/socket.io/client.js">``.

aiosocketio does not ship the JavaScript of the official client. With ``serve_client=True``
the server answers, under its path:

* ``client.js``, a small loader script (this module). It loads the client from where the
  server can offer it and resolves ``window.aiosocketio.ready`` (a ``Promise``) with ``io``:

  - from the server itself (``socket.io.min.js``, see :class:`ClientBundle`) when an
    installed ``socket.io-client`` was found (``client_dist``, or ``node_modules`` from
    the working directory up), as Node's ``serveClient`` does;
  - otherwise from the official CDN (:data:`CDN_URL`), with the Subresource Integrity hash
    :data:`CDN_INTEGRITY` (``crossorigin="anonymous"``), so the browser refuses any other
    bytes;
  - when that fails too (offline, blocked, tampered with) or the CDN is turned off
    (``client_cdn=False``), the page shows a banner saying what is missing and the command
    that fixes it, and ``ready`` is rejected with the same message.

* the client's own files (``socket.io.js``, ``socket.io.min.js``, ...) when it has a copy,
  with Node's headers (:class:`ClientBundle`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

from aiosocketio.server.client_bundle import Answer, ClientBundle

__all__ = [
    "CDN_INTEGRITY",
    "CDN_URL",
    "CLIENT_VERSION",
    "INSTALL_COMMAND",
    "LOADER_NAME",
    "ClientFiles",
]

logger = logging.getLogger("aiosocketio.server")

#: The socket.io-client release the CDN fallback loads (the one the tests pin).
CLIENT_VERSION = "4.8.4"
#: The official CDN build of that release.
CDN_URL = f"https://cdn.socket.io/{CLIENT_VERSION}/socket.io.min.js"
#: ``sha384`` of that file: the same bytes as ``dist/socket.io.min.js`` of the npm package.
CDN_INTEGRITY = "sha384-fBrXvbDtHoeKWJ/hcA6M+YGueiDW+h45I7V6F2kD1S8bOkrF9rZYPLVkCR6BLR/1"
#: The loader's name under the server's path.
LOADER_NAME = "client.js"
#: What to run to serve the client locally.
INSTALL_COMMAND = f"npm install socket.io-client@{CLIENT_VERSION}"

_FIX = (
    f"To serve it from this server, run `{INSTALL_COMMAND}` in the folder the server starts "
    "from (or point the server at a copy: Server(client_dist=...), "
    "aiosocketio demo --client-dist DIR), then restart the server."
)


class ClientFiles:
    """What ``serve_client`` answers under the server's path: the loader and the client.

    Args:
        bundle: the installed client to serve, or ``None`` when there is none.
        cdn: let the loader fall back to the CDN when there is no ``bundle``.
    """

    def __init__(self, bundle: ClientBundle | None, *, cdn: bool = True) -> None:
        self.bundle = bundle
        self.cdn = cdn
        self.loader = _render_loader(self.config())
        self.loader_etag = '"' + hashlib.sha1(self.loader).hexdigest()[:20] + '"'

    @classmethod
    def find(cls, client_dist: str | Path | None = None, *, cdn: bool = True) -> ClientFiles:
        """The client files for ``serve_client``.

        Args:
            client_dist: the client's ``dist`` folder; by default
                ``node_modules/socket.io-client/dist`` is searched from the working
                directory up, and a missing one is not an error (the CDN or the page's
                message takes over).
            cdn: allow the CDN fallback.

        Raises:
            FileNotFoundError: ``client_dist`` was given and holds no client files.
        """
        bundle = ClientBundle(client_dist) if client_dist else ClientBundle.find()
        files = cls(bundle, cdn=cdn)
        if bundle is None:
            logger.info("serve_client: %s", files.describe())
        return files

    @property
    def source(self) -> str | None:
        """Where the pages get the client: ``"local"``, ``"cdn"`` or ``None`` (nowhere)."""
        if self.bundle is not None:
            return "local"
        return "cdn" if self.cdn else None

    def describe(self) -> str:
        """One line saying where pages get the client from."""
        if self.bundle is not None:
            return (
                f"served by this server from {self.bundle.dist} "
                f"(socket.io-client {self.bundle.version})"
            )
        if self.cdn:
            return (
                f"socket.io-client is not installed here, so pages load {CDN_URL} "
                f"(with Subresource Integrity); `{INSTALL_COMMAND}` serves it locally"
            )
        return (
            "socket.io-client is not installed here and the CDN is turned off: pages show "
            f"a message; run `{INSTALL_COMMAND}`"
        )

    def config(self) -> dict[str, str | None]:
        """What the loader is told: ``source``, ``src``, ``integrity`` and ``message``."""
        if self.bundle is not None:
            return {
                "source": "local",
                "src": "socket.io.min.js",  # next to the loader, under the server's path
                "integrity": None,
                "message": (
                    "The Socket.IO browser client could not be loaded from this server "
                    "(socket.io.min.js under the Socket.IO path); see the server's log."
                ),
            }
        if self.cdn:
            return {
                "source": "cdn",
                "src": CDN_URL,
                "integrity": CDN_INTEGRITY,
                "message": (
                    "The Socket.IO browser client could not be loaded: this server has no "
                    f"copy of it, and {CDN_URL} did not load (no internet access, blocked, "
                    f"or it failed its integrity check). {_FIX}"
                ),
            }
        return {
            "source": None,
            "src": None,
            "integrity": None,
            "message": (
                "The Socket.IO browser client is not available: this server has no copy of "
                f"it, and loading it from the CDN is turned off (client_cdn=False). {_FIX}"
            ),
        }

    def answer(self, filename: str, headers: Mapping[str, str]) -> Answer | None:
        """The answer to a GET for ``filename`` below the path, or ``None`` if not ours.

        Args:
            filename: the request path below the server's path, without the query.
            headers: the request headers (lower-case names).
        """
        if filename == LOADER_NAME:
            if headers.get("if-none-match") in (self.loader_etag, "W/" + self.loader_etag):
                return 304, [], b""
            return (
                200,
                [
                    ("Cache-Control", "no-cache"),
                    ("Content-Type", "application/javascript; charset=utf-8"),
                    ("ETag", self.loader_etag),
                ],
                self.loader,
            )
        if self.bundle is not None:
            return self.bundle.answer(filename, headers)
        return None


def _render_loader(config: Mapping[str, str | None]) -> bytes:
    template = resources.files("aiosocketio.server").joinpath("client_loader.js").read_text("utf-8")
    # "</" and the line separators are escaped so the JSON stays one JavaScript literal.
    literal = (
        json.dumps(dict(config), ensure_ascii=False)
        .replace("</", "<\\/")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )
    return template.replace("__AIOSOCKETIO_CONFIG__", literal).encode()
