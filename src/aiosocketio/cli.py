"""The ``aiosocketio`` command (also ``python -m aiosocketio``).

Two sub-commands::

    aiosocketio run module:attr [--host H] [--port P] [--log-level L] [--factory]
                                [--redis URL] [--redis-key KEY] [--redis-adapter KIND]
                                [--workers N] [--port-per-worker] [--app-dir DIR]
    aiosocketio demo [--host H] [--port P] [--log-level L] [--redis URL] [--redis-key KEY]
                     [--redis-adapter KIND]

``run`` serves a :class:`aiosocketio.Server` (or a factory returning one) on the built-in
HTTP/WebSocket server, the way ``uvicorn module:app`` serves an ASGI app. ``demo`` runs the
chat demo of ``examples/chat``. Both use uvloop when it is installed, and both shut the
server down gracefully (``await server.close()``) on SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import importlib.util
import inspect
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from aiosocketio import __version__
from aiosocketio.runtime import loop as _loop

__all__ = [
    "REDIS_ADAPTERS",
    "CLIError",
    "attach_redis",
    "build_parser",
    "check_redis",
    "import_from_string",
    "main",
    "redis_adapter_factory",
    "resolve_server",
    "serve_until_stopped",
]

logger = logging.getLogger("aiosocketio.cli")

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3000
#: Seconds a graceful shutdown may take before the command exits anyway.
SHUTDOWN_TIMEOUT = 10.0

#: The repository root when running from a source checkout (the demo lives there).
SOURCE_ROOT = Path(__file__).resolve().parents[2]


class CLIError(Exception):
    """A user error on the command line; printed as ``aiosocketio: error: ...``.

    Args:
        message: What went wrong.
        exit_code: The process exit status (2: bad usage, 1: a failure at run time).
    """

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    """Build the ``aiosocketio`` argument parser (sub-commands ``run`` and ``demo``)."""
    parser = argparse.ArgumentParser(
        prog="aiosocketio",
        description=(
            "Socket.IO v5 / Engine.IO v4 for asyncio. Serve a Server object with 'run', "
            "or try the chat demo with 'demo'. Servers run on uvloop when it is installed "
            "(set AIOSOCKETIO_NO_UVLOOP=1 to use the standard asyncio loop) and stop "
            "gracefully on SIGINT (Ctrl-C) or SIGTERM; a second signal, or a close that "
            f"takes over {SHUTDOWN_TIMEOUT:g} s, makes them exit at once (status 1)."
        ),
        epilog="Run 'aiosocketio <command> --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"aiosocketio {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    sub.required = True

    run = sub.add_parser(
        "run",
        help="serve a Server object (or a factory) given as module:attr",
        description=(
            "Import APP ('module:attr', e.g. 'myapp:sio' or 'pkg.mod:create_server') and serve "
            "it on the built-in HTTP/1.1 + WebSocket server. If the attribute is an "
            "aiosocketio Server it is served as is; if it is any other callable (or --factory "
            "is given) it is called with no arguments and must return a Server (an async "
            "factory is awaited)."
        ),
        epilog=(
            "Example: aiosocketio run myapp:sio --host 0.0.0.0 --port 8000 "
            "--redis redis://127.0.0.1:6379"
        ),
    )
    run.add_argument("app", metavar="APP", help="the Server to serve, as 'module:attr'")
    _add_common(run)
    run.add_argument(
        "--factory",
        action="store_true",
        help="treat APP as a factory: call it (no arguments) to get the Server",
    )
    run.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        metavar="N",
        help=(
            "run N server processes (default: 1), sharing the port through SO_REUSEPORT. "
            "The kernel spreads connections over the processes, so use --redis for "
            "broadcasts to reach every process, and have clients use the WebSocket "
            "transport only: HTTP long-polling needs every request of a session to reach "
            "the same process. With --port-per-worker, worker i listens on PORT+i instead, "
            "for a sticky load balancer in front (nginx ip_hash)"
        ),
    )
    run.add_argument(
        "--port-per-worker",
        action="store_true",
        help=(
            "with --workers N: worker i listens on PORT+i (PORT .. PORT+N-1) instead of "
            "sharing PORT, so that a sticky load balancer can keep each session on one "
            "process (HTTP long-polling needs it)"
        ),
    )
    run.add_argument(
        "--app-dir",
        default=".",
        metavar="DIR",
        help="directory added to sys.path before importing APP (default: the current one)",
    )
    # Internal: set on the worker processes started by --workers.
    run.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)

    demo = sub.add_parser(
        "demo",
        help="run the chat demo (http://127.0.0.1:3000 by default)",
        description=(
            "Run the chat demo of examples/chat: a static page using the official "
            "socket.io-client bundle, with rooms, nicknames, a typing indicator and delivery "
            "receipts. It uses the in-memory adapter unless --redis is given. Needs a source "
            "checkout with the npm peers installed (make install)."
        ),
    )
    _add_common(demo)
    return parser


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"interface to bind (default: {DEFAULT_HOST}; use 0.0.0.0 for every interface)",
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help=f"TCP port to bind (default: {DEFAULT_PORT}; 0 picks a free port)",
    )
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default="info",
        type=str.lower,
        help="logging level of the 'aiosocketio' loggers (default: info)",
    )
    parser.add_argument(
        "--redis",
        metavar="URL",
        default=None,
        help=(
            "attach the Redis adapter (aiosocketio.adapters.redis) connected to URL, e.g. "
            "redis://127.0.0.1:6379, so that several processes or machines share rooms and "
            "broadcasts (needs the 'redis' extra: pip install 'aiosocketio[redis]')"
        ),
    )
    parser.add_argument(
        "--redis-key",
        metavar="KEY",
        default="socket.io",
        help=(
            "prefix of the Redis channels (the adapter's 'key', default: socket.io; the "
            "stream's name too with --redis-adapter streams); servers with the same key "
            "form one cluster, Node servers included"
        ),
    )
    parser.add_argument(
        "--redis-adapter",
        choices=REDIS_ADAPTERS,
        default="pubsub",
        help=(
            "which Redis adapter --redis attaches: pubsub (PUBLISH/PSUBSCRIBE, Node's "
            "@socket.io/redis-adapter createAdapter; the default), sharded (Redis 7 "
            "SPUBLISH/SSUBSCRIBE, createShardedAdapter) or streams (one Redis stream, "
            "@socket.io/redis-streams-adapter; with connection_state_recovery on the "
            "Server, clients recover their session on any process)"
        ),
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range 0-65535: {value}")
    return value


# --------------------------------------------------------------------------- helpers


def import_from_string(spec: str, app_dir: str | None = ".") -> Any:
    """Import ``"module:attr"`` (``attr`` may be dotted) and return the object.

    Args:
        spec: The import string, e.g. ``"myapp:sio"`` or ``"pkg.mod:factories.make"``.
        app_dir: Directory put first on ``sys.path`` before importing (``None``: none).

    Raises:
        CLIError: The string is malformed, or the module or attribute does not exist.
    """
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise CLIError(f"APP must be 'module:attr', got {spec!r}")
    if app_dir is not None:
        path = str(Path(app_dir).resolve())
        if path not in sys.path:
            sys.path.insert(0, path)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module_name + ".").startswith(exc.name + "."):
            raise CLIError(f"could not import module {module_name!r}") from exc
        logger.debug("importing %s failed", module_name, exc_info=True)
        raise CLIError(f"error while importing {module_name!r}: {exc}") from exc
    except Exception as exc:
        logger.debug("importing %s failed", module_name, exc_info=True)
        raise CLIError(
            f"error while importing {module_name!r}: {type(exc).__name__}: {exc} "
            "(--log-level debug shows the traceback)"
        ) from exc
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise CLIError(f"module {module_name!r} has no attribute {attr!r}") from None
    return obj


def _server_class() -> type | None:
    try:
        module = importlib.import_module("aiosocketio.server")
    except ImportError:
        return None
    cls = getattr(module, "Server", None)
    return cls if isinstance(cls, type) else None


def _looks_like_server(obj: Any) -> bool:
    cls = _server_class()
    if cls is not None and isinstance(obj, cls):
        return True
    return not isinstance(obj, type) and hasattr(obj, "close") and hasattr(obj, "listen")


async def resolve_server(obj: Any, *, factory: bool) -> Any:
    """Turn what ``run`` imported into a Server: call (and await) a factory if needed.

    Raises:
        CLIError: The object is not a Server and no Server came out of the factory.
    """
    if factory or (callable(obj) and not _looks_like_server(obj)):
        if not callable(obj):
            raise CLIError("--factory was given but APP is not callable")
        name = getattr(obj, "__qualname__", type(obj).__name__)
        try:
            obj = obj()
            if inspect.isawaitable(obj):
                obj = await obj
        except Exception as exc:
            logger.debug("the factory %s failed", name, exc_info=True)
            raise CLIError(
                f"calling the factory {name}() failed: {type(exc).__name__}: {exc} "
                "(--log-level debug shows the traceback)",
                1,
            ) from exc
    if not _looks_like_server(obj):
        raise CLIError(f"APP is not an aiosocketio Server (got {type(obj).__name__})")
    return obj


#: The Redis clients opened by :func:`redis_adapter_factory`; closed when serving stops.
_redis_clients: list[Any] = []


#: --redis-adapter: module, class, and the option that takes --redis-key.
_REDIS_ADAPTERS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "pubsub": ("aiosocketio.adapters.redis", "RedisAdapter", ("key",)),
    "sharded": ("aiosocketio.adapters.sharded", "ShardedRedisAdapter", ("channel_prefix",)),
    "streams": (
        "aiosocketio.adapters.streams",
        "RedisStreamsAdapter",
        ("stream_name", "channel_prefix"),
    ),
}
REDIS_ADAPTERS = tuple(_REDIS_ADAPTERS)


def redis_adapter_factory(
    url: str, *, kind: str = "pubsub", key: str | None = None, **options: Any
) -> Callable[[Any], Any]:
    """A ``Server(adapter=...)`` factory for a Redis adapter connected to ``url``.

    ``kind`` is one of :data:`REDIS_ADAPTERS` (``pubsub``: :class:`RedisAdapter`,
    ``sharded``: :class:`ShardedRedisAdapter`, ``streams``: :class:`RedisStreamsAdapter`);
    ``key`` is the channel prefix (and the stream's name); ``options`` go to the adapter.

    ``aiosocketio.adapters.redis`` (and redis-py) are imported lazily, so the ``redis``
    extra is needed only when this is called. The client connects on first use; the
    command closes it after the server.

    Raises:
        CLIError: The Redis adapter (or the redis package) is not available, or the URL
            is not a Redis URL.
    """
    if kind not in _REDIS_ADAPTERS:
        raise CLIError(f"--redis-adapter: choose from {', '.join(REDIS_ADAPTERS)}, not {kind!r}")
    module_name, class_name, key_options = _REDIS_ADAPTERS[kind]
    try:
        adapters = importlib.import_module(module_name)
        redis_asyncio = importlib.import_module("redis.asyncio")
    except ImportError as exc:
        raise CLIError(
            f"--redis needs the Redis adapter ({module_name}) and the 'redis' "
            f"package (pip install 'aiosocketio[redis]'): {exc}"
        ) from exc
    try:
        client = redis_asyncio.Redis.from_url(url)
    except ValueError as exc:
        raise CLIError(f"--redis: {exc}") from exc
    _redis_clients.append(client)
    if key is not None:
        options.update(dict.fromkeys(key_options, key))
    factory: Callable[[Any], Any] = getattr(adapters, class_name).factory(client, **options)
    return factory


def attach_redis(server: Any, url: str, key: str = "socket.io", kind: str = "pubsub") -> None:
    """Switch an existing ``server`` to the Redis adapter connected to ``url``.

    This needs ``server.adapter(factory)`` (Node's ``io.adapter()``); a server built by
    your own code can instead take ``Server(adapter=redis_adapter_factory(url))``.

    Raises:
        CLIError: The adapter is not available or the server cannot switch adapters.
    """
    set_adapter = getattr(server, "adapter", None)
    if not callable(set_adapter):
        raise CLIError(
            "--redis: this Server cannot switch adapters once built (it has no "
            "server.adapter(factory)); build it with Server(adapter=...) instead"
        )
    set_adapter(redis_adapter_factory(url, kind=kind, key=key))


async def check_redis(url: str, timeout: float = 5.0) -> None:
    """Make sure a Redis server answers PING at ``url`` (before building on it).

    Raises:
        CLIError: The URL is invalid (exit status 2) or nothing answers (exit status 1).
    """
    try:
        redis_asyncio = importlib.import_module("redis.asyncio")
    except ImportError as exc:
        raise CLIError(
            f"--redis needs the 'redis' package (pip install 'aiosocketio[redis]'): {exc}"
        ) from exc
    try:
        client = redis_asyncio.Redis.from_url(url)
    except ValueError as exc:
        raise CLIError(f"--redis: {exc}") from exc
    try:
        await asyncio.wait_for(client.ping(), timeout)
    except Exception as exc:
        raise CLIError(f"--redis: cannot reach Redis at {url}: {exc}", 1) from exc
    finally:
        with contextlib.suppress(Exception):
            await client.aclose()


async def _close_redis_clients() -> None:
    while _redis_clients:
        client = _redis_clients.pop()
        with contextlib.suppress(Exception):
            await client.aclose()


async def serve_until_stopped(
    server: Any,
    host: str,
    port: int,
    *,
    app: Any = None,
    stop: asyncio.Event | None = None,
    on_listening: Callable[[], None] | None = None,
    shutdown_timeout: float = SHUTDOWN_TIMEOUT,
) -> None:
    """Serve ``server`` on ``host:port`` until SIGINT/SIGTERM (or ``stop``), then close it.

    The close is graceful (``await server.close()``) but bounded: it gives up after
    ``shutdown_timeout`` seconds, or at once on a second SIGINT/SIGTERM.

    Args:
        server: The aiosocketio Server.
        host: Interface to bind.
        port: Port to bind.
        app: An ASGI app that gets the requests outside the Socket.IO path.
        stop: Set it to stop serving (the signals set it too).
        on_listening: Called once the port is bound.
        shutdown_timeout: Seconds that ``server.close()`` may take.

    Raises:
        CLIError: The close did not finish (exit status 1).
    """
    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
    force = asyncio.Event()

    def on_signal() -> None:
        if stop.is_set():
            force.set()
        stop.set()

    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, on_signal)
            installed.append(sig)
    kwargs: dict[str, Any] = {}
    if app is not None:
        kwargs["app"] = app
    listening = False
    try:
        await _start_listening(server, host, port, kwargs)
        listening = True
        if on_listening is not None:
            on_listening()
        await stop.wait()
    finally:
        if listening:
            logger.info("shutting down")
        stop.set()
        closed = await _bounded(server.close(), force, shutdown_timeout)
        await _close_redis_clients()
        for sig in installed:
            loop.remove_signal_handler(sig)
    if not closed:
        raise CLIError(
            f"server.close() did not finish within {shutdown_timeout:g}s (or a second "
            "signal came); exiting anyway",
            1,
        )


async def _bounded(work: Awaitable[Any], force: asyncio.Event, timeout: float) -> bool:
    """Run ``work`` until it finishes (True), ``timeout`` passes or ``force`` is set (False)."""
    task = asyncio.ensure_future(work)
    forced = asyncio.ensure_future(force.wait())
    try:
        done, _ = await asyncio.wait({task, forced}, timeout=timeout, return_when="FIRST_COMPLETED")
    finally:
        forced.cancel()
    if task in done:
        task.result()
        return True
    task.cancel()
    logger.warning("gave up waiting for the server to close")
    return False


async def _start_listening(server: Any, host: str, port: int, kwargs: dict[str, Any]) -> None:
    listen = getattr(server, "listen", None)
    if not callable(listen):
        raise CLIError("this Server has no listen() method")
    _check_kwargs(inspect.signature(listen).parameters, kwargs, "listen")
    result = listen(port, host, **kwargs)
    if inspect.isawaitable(result):
        await result


def _check_kwargs(params: Any, kwargs: dict[str, Any], name: str) -> None:
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    for key in kwargs:
        if key not in params and not accepts_any:
            raise CLIError(f"this Server's {name}() does not support {key}=")


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=logging.WARNING,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("aiosocketio").setLevel(level.upper())


# --------------------------------------------------------------------------- commands


async def _run_app(args: argparse.Namespace) -> None:
    obj = import_from_string(args.app, args.app_dir)
    server = await resolve_server(obj, factory=args.factory)
    if args.redis:
        await check_redis(args.redis)
        attach_redis(server, args.redis, args.redis_key, args.redis_adapter)
    await serve_until_stopped(
        server,
        args.host,
        args.port,
        on_listening=lambda: _announce(server, args.host, args.port, args.app),
    )


def _announce(server: Any, host: str, port: int, what: str) -> None:
    actual = _bound_port(server) or port
    shown = f"[{host}]" if ":" in host else host
    pid = os.getpid()
    print(
        f"aiosocketio: serving {what} on http://{shown}:{actual} ({_loop.loop_name()}, pid {pid})",
        flush=True,
    )


def _announce_demo(server: Any, host: str, port: int, redis: str | None) -> None:
    _announce(server, host, port, "the chat demo")
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    url = f"http://{shown}:{_bound_port(server) or port}/"
    adapter = f"the Redis adapter at {redis}" if redis else "the in-memory adapter"
    print(
        f"aiosocketio: open {url} in two browser windows to chat "
        f"(add ?transport=polling to force HTTP long-polling); using {adapter}; "
        "Ctrl-C stops it",
        flush=True,
    )


def _bound_port(server: Any) -> int | None:
    for name in ("port", "bound_port"):
        try:
            value = getattr(server, name, None)
        except RuntimeError:  # not listening
            return None
        if isinstance(value, int) and value > 0:
            return value
    return None


def _run_workers(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Start ``args.workers`` copies of this command and wait for them: on one port with
    --reuse-port, or on PORT+i each with --port-per-worker."""
    if args.port == 0:
        raise CLIError("--workers needs a fixed --port")
    if not args.redis:
        print(
            "aiosocketio: warning: --workers without --redis: each process only "
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


async def _run_demo(args: argparse.Namespace) -> None:
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
        on_listening=lambda: _announce_demo(server, args.host, args.port, args.redis),
    )


def _load_demo(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location("aiosocketio_chat_demo", path)
    if spec is None or spec.loader is None:
        raise CLIError(f"cannot load the chat demo from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


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
                return _run_workers(args, raw)
            _loop.run(_run_app(args), reuse_port=args.reuse_port)
        else:
            _loop.run(_run_demo(args))
    except CLIError as exc:
        parser.exit(exc.exit_code, f"aiosocketio: error: {exc}\n")
    except OSError as exc:
        parser.exit(1, f"aiosocketio: error: {exc}\n")
    except KeyboardInterrupt:
        return 130
    return 0
