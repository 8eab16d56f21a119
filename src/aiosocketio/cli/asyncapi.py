"""``aiosocketio asyncapi APP``: write the AsyncAPI 3.0 document of an app.

The document has the app's typed namespaces (``TypedNamespace``) and the handlers its
sockets register with ``socket.on``. Those are registered by the ``connection`` handlers,
so by default the command first connects one in-process client to each namespace
(:func:`aiosocketio.testing.probe_handlers`, with ``--auth``): the app's middlewares and
connection handlers run, with no network and nothing served. ``--no-probe`` documents
only what is known without running them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from aiosocketio.cli.app import import_from_string
from aiosocketio.cli.errors import CLIError
from aiosocketio.server.asyncapi import asyncapi_document

__all__ = ["add_asyncapi_parser", "write_asyncapi"]


def add_asyncapi_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``asyncapi`` sub-command to ``sub``."""
    cmd = sub.add_parser(
        "asyncapi",
        help="write the AsyncAPI 3.0 document of an app (JSON)",
        description=(
            "Write the AsyncAPI 3.0 document (JSON) of a Server: namespaces as channels, "
            "the events as operations (those of the TypedNamespace objects attached to it, "
            "and those its sockets register with socket.on), the payload schemas from the "
            "handlers' annotations, acknowledgements as replies. To find the socket.on "
            "handlers, the command first connects one in-process client to each namespace "
            "(no network), so the app's middlewares and connection handlers run: "
            "--no-probe turns that off."
        ),
    )
    cmd.add_argument("app", metavar="APP", help="the Server, as 'module:attr' (e.g. app:io)")
    cmd.add_argument("-o", "--output", metavar="FILE", help="write to FILE (default: stdout)")
    cmd.add_argument("--title", default="Socket.IO API", help="info.title of the document")
    cmd.add_argument(
        "--api-version", default="1.0.0", help="info.version of the document (default 1.0.0)"
    )
    cmd.add_argument("--app-dir", default=".", help="put DIR first on sys.path (default: .)")
    cmd.add_argument(
        "--no-probe",
        dest="probe",
        action="store_false",
        help="do not connect the in-process probe clients (the app's connection code does "
        "not run; handlers registered in connection handlers are then missing)",
    )
    cmd.add_argument(
        "--auth",
        metavar="JSON",
        type=_json_arg,
        default=None,
        help='the auth payload of the probe clients, as JSON (e.g. \'{"token": "docs"}\')',
    )
    cmd.add_argument(
        "--probe-namespace",
        metavar="NAME",
        action="append",
        default=[],
        help="also probe NAME, a name matched by a dynamic namespace (repeatable)",
    )
    cmd.add_argument(
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug"],
        help="log level of the aiosocketio loggers (default: warning)",
    )


def _json_arg(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None


def write_asyncapi(args: argparse.Namespace) -> None:
    """Import the app, probe it (unless ``--no-probe``), make its document, write it.

    A namespace that refuses the probe (a middleware) is a warning on stderr, naming it.

    Raises:
        CLIError: the app cannot be imported, or has nothing to document.
    """
    server = import_from_string(args.app, args.app_dir)
    if args.probe:
        from aiosocketio.testing.probe import probe_handlers  # only this command needs it

        probe = probe_handlers(server, auth=args.auth, namespaces=args.probe_namespace)
        # the app's connection code runs: what it prints must not go into the document. The
        # probe's manual clock needs asyncio's own loop, whatever loop policy the app set.
        try:
            with (
                contextlib.redirect_stdout(sys.stderr),
                asyncio.Runner(loop_factory=asyncio.SelectorEventLoop) as runner,
            ):
                runner.run(probe)
        except Exception as exc:
            raise CLIError(
                f"probing {args.app} failed ({type(exc).__name__}: {exc}); "
                "--no-probe documents it without running its connection code"
            ) from None
    doc = asyncapi_document(server, title=args.title, version=args.api_version)
    if not doc["channels"]:
        hint = "" if args.probe else " (its connection handlers did not run: --no-probe)"
        raise CLIError(
            f"{args.app} has no TypedNamespace attached and no handler registered with "
            f"socket.on{hint}: there is nothing to document"
        )
    text = json.dumps(doc, indent=2) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
