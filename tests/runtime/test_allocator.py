"""The C heap tuning of the built-in server (runtime/allocator.py)."""

from __future__ import annotations

import platform

import pytest

from aiosocketio import Server
from aiosocketio.runtime import allocator

GLIBC = platform.libc_ver()[0] == "glibc"


def test_it_applies_on_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AIOSOCKETIO_KEEP_HEAP", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_"):
        monkeypatch.delenv(name, raising=False)
    assert allocator._apply() is GLIBC


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AIOSOCKETIO_KEEP_HEAP", "0"),
        ("MALLOC_TRIM_THRESHOLD_", "131072"),
        ("MALLOC_MMAP_THRESHOLD_", "131072"),
    ],
)
def test_the_user_s_choice_wins(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    assert allocator._apply() is False


async def test_the_built_in_server_applies_it_when_it_listens(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("AIOSOCKETIO_KEEP_HEAP", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(allocator, "_done", None)
    io = Server()
    await io.listen(0, "127.0.0.1")
    try:
        assert allocator._done is GLIBC
    finally:
        await io.close()
