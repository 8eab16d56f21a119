"""The package as a user installs it: build the sdist and the wheel, install the wheel into a
fresh venv outside the repository, and run its ``aiosocketio`` command from there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.timeouts import scaled

ROOT = Path(__file__).resolve().parents[2]


def build_dist(out: Path) -> Path:
    """Build the sdist and the wheel of the checkout into ``out`` (``python -m build``)."""
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=scaled(300),
    )
    return out


def install_wheel(dist: Path, home: Path) -> Path:
    """A fresh venv in ``home/venv`` with the wheel of ``dist`` installed; its folder."""
    env_dir = home / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True, timeout=scaled(120))
    (wheel,) = dist.glob("*.whl")
    subprocess.run(
        [str(env_dir / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
        check=True,
        capture_output=True,
        timeout=scaled(300),
        cwd=home,
    )
    return env_dir


def user_env() -> dict[str, str]:
    """The environment of a user's shell: nothing pointing at the checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PYTHONUNBUFFERED"] = "1"
    return env
