"""Reconnection delays with socket.io-client's backoff algorithm.

The n-th delay (``n`` counted from 0) is ``min * factor ** n``, moved up or down by a random
share of itself no larger than ``jitter``, then capped at ``max``. socket.io-client's
defaults are ``min`` 1 s (``reconnection_delay``), ``max`` 5 s (``reconnection_delay_max``),
``factor`` 2 and ``jitter`` 0.5 (``randomization_factor``).

The random source is injectable, so tests pass their own and check exact values.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

__all__ = ["Backoff"]


class Backoff:
    """Exponential backoff with jitter, the way socket.io-client computes it.

    Args:
        min: the first delay, in seconds.
        max: the largest delay, in seconds.
        factor: growth factor between two attempts.
        jitter: a number in ``[0, 1]``; the delay moves by up to this share of itself.
        rand: a function returning a float in ``[0, 1)`` (``random.random`` by default).
    """

    __slots__ = ("_rand", "attempts", "factor", "jitter", "max", "min")

    def __init__(
        self,
        min: float = 1.0,
        max: float = 5.0,
        factor: float = 2.0,
        jitter: float = 0.5,
        rand: Callable[[], float] | None = None,
    ) -> None:
        self.min = min
        self.max = max
        self.factor = factor
        self.jitter = jitter if 0 < jitter <= 1 else 0.0
        self.attempts = 0
        self._rand = rand or random.random

    def duration(self) -> float:
        """Return the next delay in seconds and count one more attempt."""
        delay = self.min * self.factor**self.attempts
        self.attempts += 1
        if self.jitter:
            rand = self._rand()
            deviation = math.floor(rand * self.jitter * delay * 1000) / 1000
            # socket.io-client picks the direction from one decimal digit of the same draw.
            delay = delay - deviation if math.floor(rand * 10) % 2 == 0 else delay + deviation
        return max(0.0, min(delay, self.max))

    def reset(self) -> None:
        """Forget the attempts made so far (after a successful connection)."""
        self.attempts = 0
