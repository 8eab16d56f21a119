"""``run --workers N``: N copies of the command, on one port or on one port each."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from collections.abc import Sequence

from aiosocketio.cli.errors import CLIError

__all__ = ["run_workers"]


def run_workers(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Start ``args.workers`` copies of this command and wait for them: on one port with
    --reuse-port, or on PORT+i each with --port-per-worker."""
    if args.port == 0:
        raise CLIError("--workers needs a fixed --port")
    if not (args.redis or args.postgres):
        print(
            "aiosocketio: warning: --workers without --redis or --postgres: each process only "
            "broadcasts to its own clients",
            file=sys.stderr,
            flush=True,
        )
    child_argv = [a for a in argv if a not in ("--reuse-port", "--port-per-worker")]
    child_argv = _strip_option(child_argv, "--workers")
    base = [sys.executable, "-m", "aiosocketio", *child_argv, "--workers", "1"]
    if args.port_per_worker:
        base = _strip_option(base, "--port")
        commands = [[*base, "--port", str(args.port + i)] for i in range(args.workers)]
    else:
        commands = [[*base, "--reuse-port"]] * args.workers
    # Each worker in its own process group: a Ctrl-C in the terminal reaches the parent
    # only, which forwards it once (a second signal would cut the workers' graceful close).
    children = [subprocess.Popen(cmd, process_group=0) for cmd in commands]

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        codes = [child.wait() for child in children]
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return max((abs(c) for c in codes), default=0)


def _strip_option(argv: list[str], option: str) -> list[str]:
    out: list[str] = []
    skip = False
    for item in argv:
        if skip:
            skip = False
            continue
        if item == option:
            skip = True
            continue
        if item.startswith(option + "="):
            continue
        out.append(item)
    return out
