"""``python -m aiosocketio``: the same as the ``aiosocketio`` command."""

from __future__ import annotations

import sys

from aiosocketio.cli import main

if __name__ == "__main__":
    sys.exit(main())
