"""The fenced ``python`` blocks of the guides, and how to run them (see test_guides.py)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

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
