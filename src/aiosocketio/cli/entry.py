"""The entry point: parse the arguments, set up logging, run the command."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from aiosocketio.cli.asyncapi import write_asyncapi
from aiosocketio.cli.demo import run_demo
from aiosocketio.cli.errors import CLIError
from aiosocketio.cli.parser import build_parser
from aiosocketio.cli.run import run_app
from aiosocketio.cli.workers import run_workers
from aiosocketio.runtime import loop as _loop

__all__ = ["main"]


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=logging.WARNING,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("aiosocketio").setLevel(level.upper())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``aiosocketio`` console script.

    Args:
        argv: The arguments (without the program name); ``sys.argv[1:]`` when ``None``.

    Returns:
        The process exit status.
    """
    raw = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(raw)
    _configure_logging(args.log_level)
    try:
        if args.command == "run":
            if args.workers > 1:
                return run_workers(args, raw)
            _loop.run(run_app(args), reuse_port=args.reuse_port)
        elif args.command == "asyncapi":
            write_asyncapi(args)
        else:
            _loop.run(run_demo(args))
    except CLIError as exc:
        parser.exit(exc.exit_code, f"aiosocketio: error: {exc}\n")
    except OSError as exc:
        parser.exit(1, f"aiosocketio: error: {exc}\n")
    except KeyboardInterrupt:
        return 130
    return 0
