"""``aiosocketio demo``: the chat demo of ``examples/chat`` (a source checkout)."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import Any

from aiosocketio.cli.errors import CLIError
from aiosocketio.cli.redis_adapters import check_redis
from aiosocketio.cli.serve import announce, bound_port, serve_until_stopped

__all__ = ["SOURCE_ROOT", "run_demo"]

#: The repository root when running from a source checkout (the demo lives there).
SOURCE_ROOT = Path(__file__).resolve().parents[3]


async def run_demo(args: argparse.Namespace) -> None:
    """The ``demo`` command: the chat demo of the source checkout."""
    demo_dir = SOURCE_ROOT / "examples" / "chat"
    if not (demo_dir / "app.py").is_file():
        raise CLIError(
            f"the chat demo ships with the source checkout; {demo_dir / 'app.py'} is missing"
        )
    chat = _load_demo(demo_dir / "app.py")
    chat.install_vendor_bundle()
    if args.redis:
        await check_redis(args.redis)
    server = chat.create_server(
        redis_url=args.redis, redis_key=args.redis_key, redis_adapter=args.redis_adapter
    )
    await serve_until_stopped(
        server,
        args.host,
        args.port,
        app=chat.create_static_app(),
        on_listening=lambda: announce_demo(server, args.host, args.port, args.redis),
        shutdown_grace=args.shutdown_grace,
    )


def _load_demo(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location("aiosocketio_chat_demo", path)
    if spec is None or spec.loader is None:
        raise CLIError(f"cannot load the chat demo from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def announce_demo(server: Any, host: str, port: int, redis: str | None) -> None:
    announce(server, host, port, "the chat demo")
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    url = f"http://{shown}:{bound_port(server) or port}/"
    adapter = f"the Redis adapter at {redis}" if redis else "the in-memory adapter"
    print(
        f"aiosocketio: open {url} in two browser windows to chat "
        f"(add ?transport=polling to force HTTP long-polling); using {adapter}; "
        "Ctrl-C stops it",
        flush=True,
    )
