"""Deployment: ``aiosocketio run --workers N --port-per-worker --redis URL`` behind HAProxy,
with the two configurations of docs/deployment.md (stickiness by a cookie HAProxy adds, and
by the ``sid`` query parameter), on loopback, with Debian's haproxy.

The clients are the official socket.io-client 4.8, on HTTP long-polling only and upgrading
to WebSocket, and a raw long-polling client; each session works only if HAProxy keeps all
its requests on one process, and a broadcast made by any process reaches every client.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cluster.deployment import (
    DOC,
    WORKERS,
    PollingClient,
    balancer,
    check_polling_clients,
    doc_config,
    find_binary,
    localize,
    workers,
)
from tests.cluster.support import ClientFleet, eventually, eventually_async, free_port

pytestmark = pytest.mark.cluster

RECIPES = ("haproxy-cookie", "haproxy-sid")


@dataclass(frozen=True)
class Proxy:
    """A running recipe: its name in docs/deployment.md and its URL."""

    recipe: str
    url: str


@pytest.fixture
async def haproxy(request: pytest.FixtureRequest) -> AsyncIterator[Proxy]:
    """The recipe named by the test's parameter, in front of three processes."""
    recipe: str = request.param
    binary = find_binary("haproxy")
    folder = tempfile.mkdtemp(prefix="aiosocketio-haproxy-")
    try:
        async with workers() as ports:
            listen = free_port()
            config = Path(folder, "haproxy.cfg")
            config.write_text(localize(doc_config(recipe), listen, ports))
            # -db: stay in the foreground (our own process, stopped by PID)
            async with balancer([binary, "-db", "-f", str(config)], listen) as url:
                yield Proxy(recipe, url)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
async def fleet() -> AsyncIterator[ClientFleet]:
    clients = await ClientFleet.launch()
    try:
        yield clients
    finally:
        await clients.call("closeAll")
        await clients.stop()


@pytest.mark.parametrize("haproxy", RECIPES, indirect=True)
async def test_official_clients_polling_and_upgrading_stay_on_their_process(
    haproxy: Proxy, fleet: ClientFleet
) -> None:
    # the cookie recipe needs clients that keep cookies, which the Node client does only
    # with withCredentials; the sid recipe works with any client
    opts: dict[str, Any] = {"withCredentials": haproxy.recipe == "haproxy-cookie"}
    names = {f"poll{i}": ["polling"] for i in range(3)}
    names.update({f"up{i}": ["polling", "websocket"] for i in range(3)})
    for name, transports in names.items():
        await fleet.connect(name, haproxy.url, transports=transports, opts=opts)
    for name in names:
        await fleet.wait_received(name, "welcome")
    worker_of = {name: fleet.received(name, "welcome")[0][0]["worker"] for name in names}
    assert len(set(worker_of.values())) >= 2, worker_of  # leastconn spread the clients

    # the upgrade request (transport=websocket&sid=...) reached the session's process
    for name in names:
        want = "websocket" if name.startswith("up") else "polling"
        await eventually_async(
            lambda who=name: fleet.call("transport", name=who),  # type: ignore[misc]
            lambda transport, w=want: bool(transport == w),  # type: ignore[misc]
            what=f"{name} on {want}",
        )

    count = await fleet.call("emit", name="poll0", event="count", ack=True)
    assert count == WORKERS
    for name in names:
        await fleet.call("emit", name=name, event="shout", args=[f"hello from {name}"])
    expected = {(worker_of[name], f"hello from {name}") for name in names}
    for name in names:

        def got_all(who: str = name) -> bool:
            got = {(m[0]["worker"], m[0]["message"]) for m in fleet.received(who, "shouted")}
            return got == expected

        await eventually(got_all, timeout=10, what=f"{name} got every shout")
    assert not [e for e in fleet.events if "disconnect" in e], fleet.events


@pytest.mark.parametrize("haproxy", RECIPES, indirect=True)
async def test_raw_polling_clients_get_broadcasts_from_every_worker(haproxy: Proxy) -> None:
    # httpx keeps the cookies of the answers, as a browser does
    clients = [PollingClient(haproxy.url) for _ in range(6)]
    try:
        await check_polling_clients(clients)
    finally:
        for client in clients:
            await client.close()


@pytest.mark.parametrize("haproxy", ["haproxy-cookie"], indirect=True)
async def test_the_cookie_recipe_loses_clients_that_keep_no_cookie(
    haproxy: Proxy, fleet: ClientFleet
) -> None:
    # What the doc warns of: without withCredentials the Node client drops HAProxy's cookie,
    # its requests are spread over the processes, and its session is unknown to the others.
    failures = []
    for i in range(3):
        try:
            await fleet.connect(f"c{i}", haproxy.url, transports=["polling"])
        except AssertionError as exc:
            failures.append(str(exc))
    assert failures, "every session survived without its cookie: is the balancer sticky?"


async def test_the_documented_server_sets_the_cookie_the_sid_recipe_learns_from() -> None:
    # the Python block of the sid recipe, run as written: the handshake answer sets the
    # cookie "io" to the session id that the following requests carry in ?sid=
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    blocks = [block for block in blocks if "cookie=True" in block]  # the recipe's server
    assert len(blocks) == 1
    namespace: dict[str, Any] = {}
    exec(compile(blocks[0], str(DOC), "exec"), namespace)
    sio = namespace["sio"]
    await sio.listen(0, host="127.0.0.1")
    try:
        async with httpx.AsyncClient() as http:
            r = await http.get(f"http://127.0.0.1:{sio.port}/socket.io/?EIO=4&transport=polling")
        assert r.status_code == 200
        sid = json.loads(r.text[1:])["sid"]
        assert r.cookies["io"] == sid
    finally:
        await sio.close()
