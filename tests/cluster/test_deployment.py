"""Deployment: ``aiosocketio run --workers N --port-per-worker --redis URL`` behind nginx
(ip_hash), with the configuration of docs/deployment.md, on loopback.

The clients use HTTP long-polling only, each from its own loopback /24 (127.0.X.1), so that
ip_hash spreads them over the processes; a session works only if nginx keeps it on one
process, and a broadcast made by any process reaches the clients of every process.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.cluster.deployment import (
    EXAMPLE,
    PollingClient,
    balancer,
    check_polling_clients,
    doc_config,
    find_binary,
    localize,
    workers,
)
from tests.cluster.support import free_port

pytestmark = pytest.mark.cluster

# What the test adds around the doc's block: a main context that runs as our own process.
NGINX_MAIN = """
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
{site}
}}
"""


@pytest.fixture
async def deployment() -> AsyncIterator[str]:
    nginx = find_binary("nginx")
    prefix = tempfile.mkdtemp(prefix="aiosocketio-nginx-")
    try:
        async with workers() as ports:
            listen = free_port()
            site = localize(doc_config("nginx"), listen, ports)
            Path(prefix, "nginx.conf").write_text(NGINX_MAIN.format(prefix=prefix, site=site))
            argv = [nginx, "-p", prefix, "-c", f"{prefix}/nginx.conf"]
            async with balancer(argv, listen) as url:
                yield url
    finally:
        shutil.rmtree(prefix, ignore_errors=True)


async def test_polling_clients_behind_nginx_get_broadcasts_from_every_worker(
    deployment: str,
) -> None:
    # one client per loopback /24: ip_hash hashes the first three octets
    clients = [PollingClient(deployment, f"127.0.{i}.1") for i in range(1, 9)]
    try:
        await check_polling_clients(clients)
    finally:
        for client in clients:
            await client.close()


def test_the_example_launcher_uses_the_documented_nginx_recipe() -> None:
    # examples/cluster/run_cluster.sh fills nginx.conf.template: its upstream and location
    # hold the doc's directives (the servers aside, which the launcher generates)
    template = (EXAMPLE / "nginx.conf.template").read_text()
    lines = [line.strip() for line in doc_config("nginx").splitlines()]
    directives = [
        line for line in lines if line.endswith(";") and not re.match(r"(server|listen) ", line)
    ]
    assert directives
    for directive in directives:
        assert directive in template, directive
