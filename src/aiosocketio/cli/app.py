"""Loading the user's app for ``run``: ``module:attr``, and a Server out of it."""

from __future__ import annotations

import importlib
import inspect
import logging
import sys
from pathlib import Path
from typing import Any

from aiosocketio.cli.errors import CLIError

__all__ = ["import_from_string", "resolve_server"]

logger = logging.getLogger("aiosocketio.cli")


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


def _is_asgi_app(obj: Any) -> bool:
    """Whether ``obj`` is an ASGI application (``io.asgi_app()``, Starlette, FastAPI, an
    ``async def app(scope, receive, send)``) rather than a Server or a factory."""
    if isinstance(obj, type) or not callable(obj) or _looks_like_server(obj):
        return False
    call = obj if inspect.isroutine(obj) else type(obj).__dict__.get("__call__")
    if call is None:  # inherited: look along the class's MRO
        call = next(
            (c.__dict__["__call__"] for c in type(obj).__mro__ if "__call__" in c.__dict__), None
        )
    if call is None or not inspect.iscoroutinefunction(call):
        return False
    try:
        params = list(inspect.signature(obj).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [
        p
        for p in params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    return len(positional) == 3


def _asgi_error(spec: str | None) -> CLIError:
    """What to do when ``run`` is pointed at an ASGI application."""
    target = spec or "APP"
    module_name = target.partition(":")[0]
    servers: list[str] = []
    module = sys.modules.get(module_name)
    if module is not None:
        servers = [
            name
            for name, value in sorted(vars(module).items())
            if not name.startswith("_")
            and _looks_like_server(value)
            and not inspect.ismodule(value)
        ]
    if servers:
        hint = " or ".join(f"aiosocketio run {module_name}:{name}" for name in servers)
    else:
        hint = f"aiosocketio run {module_name}:<the variable that holds the Server>"
    return CLIError(
        f"{target} is an ASGI application, not an aiosocketio Server. Run it with an ASGI "
        f"server (uvicorn {target}; pip install 'uvicorn[standard]' for WebSocket support), "
        f"or point aiosocketio run at the Server: {hint}"
    )


async def resolve_server(obj: Any, *, factory: bool, spec: str | None = None) -> Any:
    """Turn what ``run`` imported into a Server: call (and await) a factory if needed.

    Args:
        obj: what ``APP`` names.
        factory: ``--factory`` was given.
        spec: the ``module:attr`` string, for the messages.

    Raises:
        CLIError: The object is not a Server and no Server came out of the factory (an
            ASGI application is refused with what to run instead).
    """
    if _is_asgi_app(obj):
        raise _asgi_error(spec)
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
        if _is_asgi_app(obj):
            raise _asgi_error(spec)
        raise CLIError(f"APP is not an aiosocketio Server (got {type(obj).__name__})")
    return obj
