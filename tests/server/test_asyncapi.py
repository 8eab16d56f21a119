"""``aiosocketio asyncapi`` on examples/typed/app.py, checked by the official AsyncAPI
parser (@asyncapi/parser 3, pinned in tests/interop/package.json)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.node import run_node
from tests.support.timeouts import scaled

pytestmark = pytest.mark.interop

ROOT = Path(__file__).resolve().parents[2]


def write_document(out: Path) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-m", "aiosocketio", "asyncapi", "examples.typed.app:io", "-o", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=scaled(60),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    doc: dict[str, object] = json.loads(out.read_text())
    return doc


async def test_the_official_parser_accepts_the_document(tmp_path: Path) -> None:
    doc = write_document(tmp_path / "asyncapi.json")
    assert doc["asyncapi"] == "3.0.0"
    result = (await run_node("asyncapi_validate.js", str(tmp_path / "asyncapi.json"))).check()
    (line,) = result.lines
    problems = [d for d in line["diagnostics"] if d["severity"] in ("error", "warning")]
    assert problems == [], problems
    assert line["parsed"] is True
    assert line["channels"] == [{"id": "root", "address": "/"}]
    ops = {op["id"]: op for op in line["operations"]}
    assert ops["root.receive.order"] == {
        "id": "root.receive.order",
        "action": "receive",
        "messages": ["order"],
        "reply": ["order (acknowledgement)", "error (validation rejection)"],
    }
    assert ops["root.send.moved"]["action"] == "send"
    assert ops["root.send.error"]["messages"] == ["error (validation rejection)"]
    assert set(ops) == {
        "root.receive.message",
        "root.receive.move",
        "root.receive.order",
        "root.receive.profile",
        "root.send.error",
        "root.send.message",
        "root.send.moved",
    }


def test_payload_schemas_come_from_the_annotations(tmp_path: Path) -> None:
    doc = write_document(tmp_path / "asyncapi.json")
    schemas = doc["components"]["schemas"]  # type: ignore[index]
    assert schemas["ChatMessage"]["required"] == ["room", "text"]
    assert schemas["Order"]["properties"]["size"]["enum"] == ["L", "M", "S"]
    assert schemas["Profile"]["properties"]["age"]["minimum"] == 0  # pydantic's schema
    messages = doc["channels"]["root"]["messages"]  # type: ignore[index]
    assert messages["moved"]["payload"] == {
        "type": "array",
        "items": [
            {"title": "move", "$ref": "#/components/schemas/Move"},
            {"title": "by", "type": "string"},
        ],
        "additionalItems": False,
    }


def test_an_app_without_typed_namespaces_is_refused(tmp_path: Path) -> None:
    (tmp_path / "plain_app.py").write_text("from aiosocketio import Server\nio = Server()\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "aiosocketio",
            "asyncapi",
            "plain_app:io",
            "--app-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=scaled(60),
        check=False,
    )
    assert proc.returncode != 0
    assert "has no TypedNamespace attached" in proc.stderr
