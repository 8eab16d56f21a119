"""``aiosocketio asyncapi`` on examples/typed/app.py, checked by the official AsyncAPI
parser (@asyncapi/parser 3, pinned in tests/interop/package.json)."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest

from aiosocketio import Server, Socket, TypedNamespace
from aiosocketio.server.asyncapi import asyncapi_document
from aiosocketio.testing import TestClient, probe_handlers
from tests.server.asyncapi_plain_app import TOKEN, make_app
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
    assert "has no TypedNamespace attached and no handler registered" in proc.stderr


# -- handlers registered the usual way: io.on("connection"), then socket.on ----------------

PLAIN_APP = "tests.server.asyncapi_plain_app:io"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aiosocketio", "asyncapi", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=scaled(60),
        check=False,
    )


async def parse_with_the_official_parser(path: Path) -> dict[str, Any]:
    result = (await run_node("asyncapi_validate.js", str(path))).check()
    (line,) = result.lines
    problems = [d for d in line["diagnostics"] if d["severity"] in ("error", "warning")]
    assert problems == [], problems
    assert line["parsed"] is True
    return cast(dict[str, Any], line)


async def test_the_probe_finds_the_socket_on_handlers(tmp_path: Path) -> None:
    out = tmp_path / "plain.json"
    proc = run_cli(
        PLAIN_APP,
        "--auth",
        json.dumps({"token": TOKEN}),
        "--probe-namespace",
        "/room-7",
        "-o",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    assert "connected" in proc.stderr  # the app's print went to stderr, not the document
    line = await parse_with_the_official_parser(out)
    assert line["channels"] == [
        {"id": "root", "address": "/"},
        {"id": "admin", "address": "/admin"},
        {"id": "dynamic_1"},  # no address: the names are not known upfront
    ]
    ops = {op["id"]: op for op in line["operations"]}
    assert ops == {
        "root.receive.chat": {
            "id": "root.receive.chat",
            "action": "receive",
            "messages": ["chat"],
            "reply": ["error (validation rejection)"],
        },
        "root.receive.point": {
            "id": "root.receive.point",
            "action": "receive",
            "messages": ["point"],
            "reply": ["point (acknowledgement)", "error (validation rejection)"],
        },
        "root.receive.profile": {
            "id": "root.receive.profile",
            "action": "receive",
            "messages": ["profile"],
            "reply": ["profile (acknowledgement)", "error (validation rejection)"],
        },
        "root.receive.ping": {
            "id": "root.receive.ping",
            "action": "receive",
            "messages": ["ping"],
            "reply": ["ping (acknowledgement)"],
        },
        "root.receive.log": {
            "id": "root.receive.log",
            "action": "receive",
            "messages": ["log"],
            "reply": None,
        },
        "root.send.error": {
            "id": "root.send.error",
            "action": "send",
            "messages": ["error (validation rejection)"],
            "reply": None,
        },
        "admin.receive.kick": {
            "id": "admin.receive.kick",
            "action": "receive",
            "messages": ["kick"],
            "reply": ["kick (acknowledgement)", "error (validation rejection)"],
        },
        "admin.send.error": {
            "id": "admin.send.error",
            "action": "send",
            "messages": ["error (validation rejection)"],
            "reply": None,
        },
        "dynamic_1.receive.say": {
            "id": "dynamic_1.receive.say",
            "action": "receive",
            "messages": ["say"],
            "reply": ["error (validation rejection)"],
        },
        "dynamic_1.send.error": {
            "id": "dynamic_1.send.error",
            "action": "send",
            "messages": ["error (validation rejection)"],
            "reply": None,
        },
    }
    doc = json.loads(out.read_text())
    assert doc["channels"]["dynamic_1"]["x-namespace-matcher"] == r"regex ^/room-\d+$"


async def test_a_middleware_that_refuses_the_probe_is_a_warning(tmp_path: Path) -> None:
    out = tmp_path / "plain.json"
    proc = run_cli(PLAIN_APP, "-o", str(out))  # no --auth: "/admin" refuses
    assert proc.returncode == 0, proc.stderr
    assert "the probe of namespace '/admin' was refused (connect_error not authorized)" in (
        proc.stderr
    )
    line = await parse_with_the_official_parser(out)
    assert line["channels"] == [{"id": "root", "address": "/"}]


def test_no_probe_runs_no_connection_code(tmp_path: Path) -> None:
    proc = run_cli(PLAIN_APP, "--no-probe")
    assert proc.returncode != 0
    assert "connected" not in proc.stderr  # the connection handler did not run
    assert "no handler registered with socket.on" in proc.stderr
    assert "--no-probe" in proc.stderr
    # a typed app is documented without the probe, from its declarations
    proc = run_cli("examples.typed.app:io", "--no-probe")
    assert proc.returncode == 0, proc.stderr
    assert set(json.loads(proc.stdout)["channels"]) == {"root"}


def test_the_probe_runs_whatever_loop_policy_the_app_sets(tmp_path: Path) -> None:
    # An app module that installs uvloop's policy on import (common in production code):
    # the probe's manual clock needs asyncio's own loop, and once raised a traceback here.
    (tmp_path / "uv_app.py").write_text(
        "import asyncio\n"
        "import uvloop\n"
        "from aiosocketio import Server\n"
        "asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())\n"
        "io = Server()\n"
        "@io.on('connection')\n"
        "def connection(socket):\n"
        "    def hello(name: str) -> str:\n"
        "        return name\n"
        "    socket.on('hello', hello)\n"
    )
    proc = run_cli("uv_app:io", "--app-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    messages = json.loads(proc.stdout)["channels"]["root"]["messages"]
    assert messages["hello"]["payload"] == {"type": "string"}


def test_a_bad_auth_is_a_usage_error() -> None:
    proc = run_cli(PLAIN_APP, "--auth", "{token}")
    assert proc.returncode == 2
    assert "argument --auth: not JSON" in proc.stderr


async def test_the_payload_schemas_of_socket_on_handlers() -> None:
    io = make_app()
    assert asyncapi_document(io)["channels"] == {}  # nothing is known before a connection
    report = await probe_handlers(io, auth={"token": TOKEN})
    assert report.connected == ("/", "/admin")
    assert report.refused == ()
    doc = asyncapi_document(io)
    schemas = doc["components"]["schemas"]
    messages = doc["channels"]["root"]["messages"]
    assert messages["chat"]["payload"] == {"$ref": "#/components/schemas/Chat"}
    assert messages["chat"]["summary"] == "Send a chat line to a room."
    assert schemas["Chat"]["required"] == ["room", "text"]  # the TypedDict
    assert messages["point"]["payload"] == {"$ref": "#/components/schemas/Point"}
    assert schemas["Point"]["required"] == ["x", "y"]  # the dataclass
    # two arguments: an array, one schema each; the pydantic model's schema is pydantic's
    assert messages["profile"]["payload"] == {
        "type": "array",
        "items": [
            {"title": "p", "$ref": "#/components/schemas/Profile"},
            {"title": "greeting", "type": "string"},
        ],
        "additionalItems": False,
    }
    assert schemas["Profile"]["properties"]["age"]["minimum"] == 0
    assert messages["profile.ack"]["payload"] == {"type": "string"}  # the return annotation
    assert "type" not in messages["point.ack"]["payload"]  # an ack callback: any arguments
    # unannotated handlers: a permissive payload; one that returns a value has an ack
    assert set(messages["log"]["payload"]) == {"description"}
    assert set(messages["ping"]["payload"]) == {"description"}
    assert set(messages["ping.ack"]["payload"]) == {"description"}
    assert "log.ack" not in messages
    assert doc["channels"]["admin"]["messages"]["kick.ack"]["payload"] == {"type": "boolean"}


async def test_a_refused_probe_is_reported_not_raised() -> None:
    io = make_app()
    report = await probe_handlers(io, auth={"token": "wrong"})
    assert report.connected == ("/",)
    assert report.refused == (("/admin", "connect_error not authorized"),)
    (warning,) = report.warnings
    assert "'/admin'" in warning
    assert set(asyncapi_document(io)["channels"]) == {"root"}


async def test_the_catalog_records_a_handler_once_per_event_and_code() -> None:
    io = make_app()
    async with TestClient(io) as client:
        socks = [await client.connect() for _ in range(3)]
        catalog = io.of("/").handler_catalog
        assert [e.event for e in catalog] == ["chat", "point", "profile", "ping", "log"]
        (point,) = catalog.events()["point"]
        assert point.ack_param == "ack"
        assert point.params[0][0] == "p"
        for sock in socks:
            await sock.disconnect()


async def test_the_catalog_does_not_keep_the_probed_socket_alive() -> None:
    io = make_app()
    probed: list[weakref.ref[Socket]] = []
    io.on("connection", lambda socket: probed.append(weakref.ref(socket)))
    await probe_handlers(io)
    assert len(io.of("/").handler_catalog) == 5
    gc.collect()
    # its handlers close over the socket: the catalog keeps their code, not them
    assert [ref() for ref in probed] == [None]


async def test_a_typed_namespace_and_socket_on_handlers_share_a_channel() -> None:
    io = Server()
    typed: TypedNamespace[Any] = TypedNamespace("/")

    @typed.on("move")
    def move(socket: Socket, x: int) -> int:
        return x

    typed.attach(io)

    @io.on("connection")
    def connection(socket: Socket) -> None:
        socket.on("extra", lambda data: None)

    await probe_handlers(io)
    doc = asyncapi_document(io)
    # the typed handler is documented once, from its declaration; the plain one is added
    assert set(doc["operations"]) == {"root.receive.move", "root.receive.extra", "root.send.error"}
    assert doc["channels"]["root"]["messages"]["move"]["payload"] == {"type": "integer"}


async def test_several_handlers_of_one_event_and_node_style_acks() -> None:
    io = Server()
    typed: TypedNamespace[Any] = TypedNamespace("/typed")

    @typed.on("save")
    def save(socket: Socket, doc: str, ack: Callable[..., Any]) -> None:
        ack("saved")

    typed.attach(io)

    @io.on("connection")
    def audit(socket: Socket) -> None:
        @socket.on("move")
        def log_move(x: int, y: int) -> None:
            pass

    @io.on("connection")
    def game(socket: Socket) -> None:
        @socket.on("move")
        def move(x: int, y: int) -> int:
            return x + y

        @socket.on("jump")
        def jump(height: int) -> None:
            pass

        @socket.on("jump")
        def jump_log(height: float) -> None:
            pass

    await probe_handlers(io)
    doc = asyncapi_document(io)
    messages = doc["channels"]["root"]["messages"]
    # the same payload for both handlers: one schema; the one that returns a value acks
    assert messages["move"]["payload"]["items"] == [
        {"title": "x", "type": "integer"},
        {"title": "y", "type": "integer"},
    ]
    assert messages["move.ack"]["payload"] == {"type": "integer"}
    # different annotations: the payload goes to each handler, so it must fit all of them
    assert messages["jump"]["payload"] == {"allOf": [{"type": "integer"}, {"type": "number"}]}
    assert "jump.ack" not in messages
    # a typed handler with an ack callback: its acknowledgement, with a permissive schema
    typed_messages = doc["channels"]["typed"]["messages"]
    assert "type" not in typed_messages["save.ack"]["payload"]
    assert doc["operations"]["typed.receive.save"]["reply"]["messages"][0] == {
        "$ref": "#/channels/typed/messages/save.ack"
    }
