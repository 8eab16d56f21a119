"""Typed emits: mypy rejects a wrong event name or payload in ``emitter(...)``.

Runs mypy (the project's configuration, strict) over tests/typing_samples: the correct
sample has no error, the wrong one exactly the expected errors.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from aiosocketio import TypedNamespace
from tests.support.timeouts import scaled

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "tests" / "typing_samples"


def mypy(sample: str) -> tuple[int, list[tuple[int, str]], str]:
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", str(SAMPLES / sample)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=scaled(300),
        check=False,
    )
    errors = [
        (int(m[1]), m[2])
        for m in re.finditer(r"^[^:\n]+:(\d+): error: .*\[([a-z-]+)\]$", proc.stdout, re.M)
    ]
    return proc.returncode, errors, proc.stdout


def test_mypy_accepts_the_declared_emits() -> None:
    code, errors, out = mypy("emits_ok.py")
    assert code == 0 and errors == [], out


def test_mypy_rejects_wrong_event_names_and_payloads() -> None:
    code, errors, out = mypy("emits_wrong.py")
    assert code == 1, out
    assert errors == [
        (25, "attr-defined"),  # "ToClient" has no attribute "mesage"; maybe "message"?
        (26, "typeddict-item"),  # Missing key "text"
        (26, "typeddict-unknown-key"),  # Extra key "txt"
        (27, "arg-type"),  # "str"; expected "ChatMessage"
        (28, "call-arg"),  # Too few arguments for "moved"
        (29, "arg-type"),  # "str"; expected "int"
    ], out
    assert 'has no attribute "mesage"' in out


def test_an_undeclared_event_fails_at_run_time_too() -> None:
    class Target:
        def __init__(self) -> None:
            self.sent: list[tuple[object, ...]] = []

        def emit(self, event: str, *args: object) -> None:
            self.sent.append((event, *args))

    class ToClient:
        def notice(self, text: str, /) -> None: ...

    target = Target()
    typed: TypedNamespace[ToClient] = TypedNamespace("/", sends=ToClient)
    typed.emitter(target).notice("hi")
    assert target.sent == [("notice", "hi")]
    with pytest.raises(AttributeError, match="'nope' is not an event"):
        typed.emitter(target).nope  # type: ignore[attr-defined]  # noqa: B018
