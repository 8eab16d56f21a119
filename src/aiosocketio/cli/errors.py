"""The error the command reports to its user."""

from __future__ import annotations

__all__ = ["CLIError"]


class CLIError(Exception):
    """A user error on the command line; printed as ``aiosocketio: error: ...``.

    Args:
        message: What went wrong.
        exit_code: The process exit status (2: bad usage, 1: a failure at run time).
    """

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code
