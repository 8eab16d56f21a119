"""Summarize a py-spy ``--format raw`` profile (collapsed stacks) into the hottest frames.

usage: python bench/profiles.py bench/profiles/echo-aiosocketio.raw
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path


def summarize(raw: Path, out: Path, top: int = 30) -> str:
    """Write the top frames by self and by inclusive samples to ``out``; return the text."""
    self_counts: Counter[str] = Counter()
    incl_counts: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        self_counts[_short(frames[-1])] += n
        for frame in {_short(f) for f in frames}:
            incl_counts[frame] += n
    lines = [f"{raw.name}: {total} samples", "", "self:"]
    for frame, n in self_counts.most_common(top):
        lines.append(f"  {100 * n / max(total, 1):5.1f}%  {frame}")
    lines += ["", "inclusive:"]
    for frame, n in incl_counts.most_common(top):
        lines.append(f"  {100 * n / max(total, 1):5.1f}%  {frame}")
    text = "\n".join(lines) + "\n"
    out.write_text(text)
    return text


def _short(frame: str) -> str:
    """``func (path/to/module.py:12)`` -> ``func (module.py)``: per function, not per line."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    parts = where.split("/")
    if "aiosocketio" in parts:
        where = "/".join(parts[parts.index("aiosocketio") :])
    else:
        where = "/".join(parts[-2:])
    where = where.rsplit(":", 1)[0]
    return f"{name} ({where})"


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        p = Path(arg)
        print(summarize(p, p.with_suffix(".txt")))
