"""``aiosocketio asyncapi APP``: write the AsyncAPI 3.0 document of an app's typed namespaces."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from aiosocketio.cli.app import import_from_string
from aiosocketio.cli.errors import CLIError
from aiosocketio.server.asyncapi import asyncapi_document
from aiosocketio.server.contract import attached

__all__ = ["add_asyncapi_parser", "write_asyncapi"]


def add_asyncapi_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``asyncapi`` sub-command to ``sub``."""
    cmd = sub.add_parser(
        "asyncapi",
        help="write the AsyncAPI 3.0 document of an app (JSON)",
        description=(
            "Write the AsyncAPI 3.0 document (JSON) of the TypedNamespace objects attached "
            "to a Server: namespaces as channels, the events both ways as operations, the "
            "payload schemas from the handlers' annotations, acknowledgements as replies."
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
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug"],
        help="log level of the aiosocketio loggers (default: warning)",
    )


def write_asyncapi(args: argparse.Namespace) -> None:
    """Import the app, make its document, write it.

    Raises:
        CLIError: the app cannot be imported, or has no typed namespace.
    """
    server = import_from_string(args.app, args.app_dir)
    if not attached(server):
        raise CLIError(
            f"{args.app} has no TypedNamespace attached (typed = TypedNamespace(...); "
            "typed.attach(io)): there is nothing to document"
        )
    doc = asyncapi_document(server, title=args.title, version=args.api_version)
    text = json.dumps(doc, indent=2) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
