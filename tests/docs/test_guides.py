"""The guides' Python code runs: docs/guides/*.md and docs/deployment.md.

The conventions (docs/guides/README.md states them for writers):

* every fenced ``python`` block compiles (top-level ``await`` allowed: a fragment may be
  the body of a coroutine);
* a block whose first line is ``# file: NAME.py`` is a module of the guide: it is written
  to a scratch folder, with every other ``# file:`` block of the same guide, before any
  block of that guide runs, so the guide's programs and commands can import it
  (``uvicorn NAME:app``). It is imported in the import check, so it runs too;
* a block whose first line is ``# runnable`` is a complete program: it runs in a
  subprocess in that folder, must start its servers on ephemeral loopback ports, assert
  what it shows, and exit with status 0 within ``RUN_TIMEOUT`` (scaled), with no
  traceback on stderr;
* every other block is a fragment: it compiles and its imports resolve (each ``import``
  and ``from ... import`` statement in it is executed, in a subprocess, with the guide's
  modules importable).

Each guide under docs/guides/ has at least one runnable block.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from tests.docs.guide_blocks import (
    ALL_BLOCKS,
    GUIDES,
    GUIDES_DIR,
    ROOT,
    RUN_TIMEOUT,
    RUNNABLES,
    Block,
    blocks_of,
    run_program,
    write_modules,
)
from tests.support.timeouts import scaled

# -- the checks ------------------------------------------------------------------------------


def test_there_are_guides() -> None:
    names = {path.name for path in GUIDES}
    for expected in (
        "frameworks.md",
        "authentication.md",
        "logging.md",
        "engine.md",
        "migrating-from-python-socketio.md",
        "deployment.md",
    ):
        assert expected in names


@pytest.mark.parametrize(
    "guide", [g for g in GUIDES if g.parent == GUIDES_DIR], ids=lambda g: g.name
)
def test_every_guide_runs_something(guide: Path) -> None:
    assert any(block.runnable for block in blocks_of(guide)), f"{guide.name}: no runnable block"


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=str)
def test_block_compiles(block: Block) -> None:
    compile(block.code, str(block), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


IMPORT_CHECK = """
import ast, importlib, json, sys
failures = []
for name in MODULES:
    try:
        importlib.import_module(name)
    except BaseException as exc:
        failures.append(f"module {name}: {type(exc).__name__}: {exc}")
for label, code in FRAGMENTS:
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            statement = ast.unparse(node)
            try:
                exec(statement, {})
            except BaseException as exc:
                failures.append(f"{label}: {statement}: {type(exc).__name__}: {exc}")
print(json.dumps(failures))
"""


@pytest.mark.parametrize("guide", GUIDES, ids=lambda g: g.stem)
def test_imports_resolve(guide: Path, tmp_path: Path) -> None:
    modules = write_modules(guide, tmp_path)
    fragments = [
        (str(b), b.code) for b in blocks_of(guide) if not b.runnable and b.file_name is None
    ]
    code = f"MODULES = {modules!r}\nFRAGMENTS = {fragments!r}\n{IMPORT_CHECK}"
    result = run_program(code, tmp_path, scaled(RUN_TIMEOUT))
    assert result.returncode == 0, result.stderr[-4000:]
    failures = json.loads(result.stdout.strip().splitlines()[-1])
    assert failures == [], "\n".join(failures)


@pytest.mark.parametrize("block", RUNNABLES, ids=str)
def test_runnable_block(block: Block, tmp_path: Path) -> None:
    write_modules(block.guide, tmp_path)
    result = run_program(block.code, tmp_path, scaled(RUN_TIMEOUT))
    report = f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-5000:]}"
    assert result.returncode == 0, f"{block} exited with {result.returncode}\n{report}"
    assert "Traceback" not in result.stderr, f"{block} printed a traceback\n{report}"


# -- the harness itself ------------------------------------------------------------------------


def test_the_harness_reads_blocks_and_catches_failures(tmp_path: Path) -> None:
    guide = tmp_path / "guide.md"
    guide.write_text(
        "text\n\n```python\n# file: helper.py\nVALUE = 2\n```\n\n"
        "```python\n# runnable\nimport helper\nassert helper.VALUE == 3\n```\n"
    )
    module, program = blocks_of(guide)
    assert (module.file_name, module.line, program.runnable) == ("helper.py", 4, True)
    folder = tmp_path / "run"
    folder.mkdir()
    assert write_modules(guide, folder) == ["helper"]
    result = run_program(program.code, folder, scaled(RUN_TIMEOUT))
    assert result.returncode != 0 and "AssertionError" in result.stderr
    slow = run_program("import time\ntime.sleep(30)\n", folder, 0.5)
    assert slow.returncode == -9


def test_the_logging_guide_names_every_logger() -> None:
    names = set()
    for path in (ROOT / "src" / "aiosocketio").rglob("*.py"):
        names.update(re.findall(r'getLogger\("(aiosocketio\.[a-z_.]+)"\)', path.read_text()))
    assert len(names) >= 10, names
    guide = (GUIDES_DIR / "logging.md").read_text()
    missing = sorted(name for name in names if f"\n| `{name}`" not in guide)
    assert missing == [], f"loggers missing from docs/guides/logging.md: {missing}"
