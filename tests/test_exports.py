"""``aiosocketio.__all__`` is curated: sorted, unique, and every name resolves.

The same holds for the ``__all__`` of every module of the package that declares one.
"""

from __future__ import annotations

import builtins
import importlib
import pkgutil
from types import ModuleType

import pytest

import aiosocketio

# Modules that are entry points rather than libraries (importing them is not side-effect free).
SKIP = {"aiosocketio.__main__"}


def _modules() -> list[str]:
    names = [aiosocketio.__name__]
    for info in pkgutil.walk_packages(aiosocketio.__path__, prefix="aiosocketio."):
        if info.name not in SKIP:
            names.append(info.name)
    return sorted(names)


def _public_all(module: ModuleType) -> list[str]:
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{module.__name__} has no __all__"
    assert isinstance(exported, list | tuple), f"{module.__name__}.__all__ is not a list"
    assert all(isinstance(name, str) for name in exported)
    return list(exported)


def test_package_has_a_curated_all() -> None:
    exported = _public_all(aiosocketio)
    assert exported, "aiosocketio.__all__ is empty"
    assert exported == sorted(exported), "aiosocketio.__all__ is not sorted"
    assert len(exported) == len(set(exported)), "aiosocketio.__all__ has duplicates"
    missing = [name for name in exported if not hasattr(aiosocketio, name)]
    assert missing == []


def test_package_exports_the_server_api() -> None:
    exported = set(_public_all(aiosocketio))
    for name in ("Server", "ConnectionRefused", "SocketIOError"):
        assert name in exported, f"aiosocketio.{name} is not exported"
    assert isinstance(aiosocketio.__version__, str)


def test_adapter_timeout_is_in_the_error_tree() -> None:
    timeout = aiosocketio.AdapterTimeout("late", responses=[1])
    assert isinstance(timeout, aiosocketio.AdapterError)
    assert isinstance(timeout, aiosocketio.AckTimeout)
    assert isinstance(timeout, TimeoutError)
    assert isinstance(timeout, aiosocketio.SocketIOError)
    assert timeout.responses == [1]
    assert aiosocketio.AdapterTimeout is aiosocketio.exceptions.AdapterTimeout


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from aiosocketio import *", namespace)
    names = {name for name in namespace if name != "__builtins__"}
    assert names == set(_public_all(aiosocketio))


def test_public_names_are_not_private() -> None:
    exported = _public_all(aiosocketio)
    assert [n for n in exported if n.startswith("_") and not n.startswith("__")] == []


@pytest.mark.parametrize("name", _modules())
def test_every_module_all_resolves(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    if exported is None:
        return
    assert len(exported) == len(set(exported)), f"{name}.__all__ has duplicates"
    missing = [attr for attr in exported if not hasattr(module, attr)]
    assert missing == [], f"{name}.__all__ names missing attributes"


@pytest.mark.parametrize("name", _modules())
def test_no_exported_exception_shadows_a_builtin(name: str) -> None:
    module = importlib.import_module(name)
    for attr in getattr(module, "__all__", ()):
        value = getattr(module, attr)
        if isinstance(value, type) and issubclass(value, BaseException):
            assert not hasattr(builtins, attr), f"{name}.{attr} shadows the builtin"


def test_the_branches_of_the_error_tree_are_exported() -> None:
    from aiosocketio import exceptions

    branches = [
        name
        for name in exceptions.__all__
        if getattr(exceptions, name).__bases__[0]
        in (exceptions.SocketIOError, exceptions.ProtocolError, Exception)
    ]
    assert "ConnectError" in branches
    assert [name for name in branches if name not in aiosocketio.__all__] == []


def test_connect_error_is_also_the_builtin_connection_error() -> None:
    from aiosocketio.exceptions import ConnectError

    assert aiosocketio.ConnectError is ConnectError
    err = ConnectError("not authorized", {"content": "later"})
    assert isinstance(err, ConnectionError) and isinstance(err, aiosocketio.SocketIOError)
    assert (str(err), err.message, err.data) == (
        "not authorized",
        "not authorized",
        {"content": "later"},
    )
    with pytest.raises(ConnectionError):
        raise err
    module = importlib.import_module("aiosocketio.exceptions")
    with pytest.warns(DeprecationWarning, match="ConnectError"):
        old_name = module.ConnectionError  # the name before, still answered
    assert old_name is ConnectError
    with pytest.raises(AttributeError):
        _ = module.NoSuchError
