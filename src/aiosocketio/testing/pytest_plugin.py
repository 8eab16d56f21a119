"""pytest fixtures for testing an aiosocketio application (needs pytest-asyncio).

Enable it in a ``conftest.py`` and define the ``sio_server`` fixture as your app's
:class:`~aiosocketio.server.Server`::

    pytest_plugins = ["aiosocketio.testing.pytest_plugin"]

    @pytest.fixture
    def sio_server():
        return create_app()

Fixtures:

* ``sio_clock``: the :class:`~aiosocketio.testing.ManualClock` of the test;
* ``sio_test_client``: an open :class:`~aiosocketio.testing.TestClient` of ``sio_server``
  with that clock;
* ``sio_client``: a :class:`~aiosocketio.testing.TestSocket` connected to the main
  namespace.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from aiosocketio.server import Server
from aiosocketio.testing.client import TestClient, TestSocket
from aiosocketio.testing.clock import ManualClock

__all__ = ["sio_client", "sio_clock", "sio_server", "sio_test_client"]


@pytest.fixture
def sio_server() -> Server:
    """The application under test: override this fixture with your app's server."""
    raise pytest.UsageError("define a `sio_server` fixture that returns your Server")


@pytest.fixture
def sio_clock() -> ManualClock:
    """The test's manual clock (installed by ``sio_test_client``)."""
    return ManualClock()


@pytest_asyncio.fixture
async def sio_test_client(sio_server: Server, sio_clock: ManualClock) -> AsyncIterator[TestClient]:
    """A :class:`TestClient` of ``sio_server``, closed after the test."""
    async with TestClient(sio_server, clock=sio_clock) as client:
        yield client


@pytest_asyncio.fixture
async def sio_client(sio_test_client: TestClient) -> TestSocket:
    """A client connected to the main namespace of ``sio_server``."""
    return await sio_test_client.connect()
