"""Typed, validated events (examples/typed/app.py) with the official socket.io-client 4.8.

examples/typed/client.js sends good and bad payloads and asserts the shapes of the
acknowledgements and of the ``error`` event; here: that it passed, what the server logged
(once per socket and event), and that unannotated handlers get no plan.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from aiosocketio.server.validation import check_for
from tests.support.node import run_node

pytestmark = pytest.mark.interop

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "typed"


def load_example() -> ModuleType:
    """examples/typed/app.py as a module (a fresh Server each time)."""
    spec = importlib.util.spec_from_file_location("typed_example_app", EXAMPLE / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


async def test_official_client_sees_rejections(caplog: pytest.LogCaptureFixture) -> None:
    app = load_example()
    caplog.set_level(logging.WARNING, logger="aiosocketio.server")
    await app.io.listen(0, "127.0.0.1")
    try:
        result = await run_node(EXAMPLE / "client.js", f"http://127.0.0.1:{app.io.port}")
    finally:
        await app.io.close()
    result.check()
    checks = [line["check"] for line in result.lines]
    assert checks == ["good payloads"] + ["rejected with ack"] * 7 + [
        "rejected without ack",
        "typed emit",
    ]
    rejected = [r.getMessage() for r in caplog.records if "was rejected" in r.getMessage()]
    # once per socket and event: message, move, order, profile (move was rejected 3 times)
    assert [m.split("'")[1] for m in rejected] == ["message", "move", "order", "profile"]
    assert "namespace '/'" in rejected[0]
    assert "argument 0 (msg) at $.text: Expected `str`, got `int`" in rejected[0]


def test_unannotated_handlers_get_no_plan() -> None:
    def plain(data, ack=None):  # type: ignore[no-untyped-def]
        return data

    def only_any(data: Any, more: object) -> None:
        pass

    def typed(data: int) -> None:
        pass

    assert check_for(plain, "ack") is None
    assert check_for(only_any, None) is None
    plan = check_for(typed, None)
    assert plan is not None and plan([1]) == [1]
    assert check_for(typed, None) is plan  # made once per code object
