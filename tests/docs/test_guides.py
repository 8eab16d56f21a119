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
  what it shows, and exit with status 0 within ``RUN_TIMEOUT`` (scaled);
* every other block is a fragment: it compiles and its imports resolve (each ``import``
  and ``from ... import`` statement in it is executed, in a subprocess, with the guide's
  modules importable).

Each guide under docs/guides/ has at least one runnable block.
"""

from __future__ import annotations

import ast
import json
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.timeouts import scaled

ROOT = Path(__file__).resolve().parents[2]
GUIDES_DIR = ROOT / "docs" / "guides"
GUIDES = [
    *sorted(p for p in GUIDES_DIR.glob("*.md") if p.name != "README.md"),
    ROOT / "docs" / "deployment.md",
]
RUNNABLE = "# runnable"
FILE = re.compile(r"# file: ([A-Za-z_][A-Za-z0-9_]*\.py)\s*$")
FENCE = re.compile(r"^```python\n(.*?)^```", re.M | re.S)
#: How long one runnable block may take (it starts servers, subprocesses included).
RUN_TIMEOUT = 60.0


@dataclass(frozen=True)
class Block:
    """One fenced ``python`` block of a guide."""

    guide: Path
    line: int
    code: str

    def __str__(self) -> str:
        return f"{self.guide.stem}:{self.line}"

    @property
    def first_line(self) -> str:
        return self.code.split("\n", 1)[0].strip()

    @property
    def runnable(self) -> bool:
        return self.first_line == RUNNABLE

    @property
    def file_name(self) -> str | None:
        """The module name of a ``# file: NAME.py`` block, else None."""
        found = FILE.match(self.first_line)
        return found.group(1) if found else None


def blocks_of(path: Path) -> list[Block]:
    """The ``python`` blocks of the Markdown file ``path``, in order."""
    text = path.read_text()
    return [
        Block(path, text.count("\n", 0, m.start()) + 2, m.group(1)) for m in FENCE.finditer(text)
    ]


ALL_BLOCKS = [block for guide in GUIDES for block in blocks_of(guide)]
RUNNABLES = [block for block in ALL_BLOCKS if block.runnable]


def write_modules(guide: Path, folder: Path) -> list[str]:
    """Write the guide's ``# file:`` blocks into ``folder``; return the module names."""
    names: list[str] = []
    for block in blocks_of(guide):
        name = block.file_name
        if name is not None:
            assert not (folder / name).exists(), f"{block}: {name} is defined twice"
            (folder / name).write_text(block.code)
            names.append(name.removesuffix(".py"))
    return names


def child_env(folder: Path) -> dict[str, str]:
    """The environment of a guide's program: its folder and the repository importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(folder), str(ROOT / "src"), *filter(None, [env.get("PYTHONPATH")])]
    )
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("PYTHONWARNINGS", None)
    return env


def run_program(code: str, folder: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run ``code`` as a script in ``folder``; on timeout kill its whole process group."""
    script = folder / "_program.py"
    script.write_text(code)
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=folder,
        env=child_env(folder),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own group: the servers it starts die with it
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        err += f"\n[killed after {timeout:.0f} s]"
        return subprocess.CompletedProcess(proc.args, -9, out, err)
    finally:
        try:  # whatever it left behind in its group
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


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
