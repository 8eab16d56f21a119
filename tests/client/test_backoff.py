"""socket.io-client's reconnection backoff, with the random source passed in."""

from __future__ import annotations

from aiosocketio.client.backoff import Backoff


def test_without_jitter_the_delay_doubles_up_to_the_max() -> None:
    backoff = Backoff(1.0, 5.0, 2.0, 0.0)
    assert [backoff.duration() for _ in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert backoff.attempts == 5


def test_reset_starts_over() -> None:
    backoff = Backoff(0.5, 10.0, 2.0, 0.0)
    backoff.duration()
    backoff.duration()
    backoff.reset()
    assert backoff.attempts == 0
    assert backoff.duration() == 0.5


def test_an_even_first_digit_lowers_the_delay() -> None:
    # rand = 0.25: floor(2.5) = 2 is even, so the delay goes down by 0.25 * 0.5 * 1000 ms.
    backoff = Backoff(1.0, 5.0, 2.0, 0.5, rand=lambda: 0.25)
    assert backoff.duration() == 0.875


def test_an_odd_first_digit_raises_the_delay() -> None:
    # rand = 0.35: floor(3.5) = 3 is odd, so the delay goes up by 0.35 * 0.5 of itself.
    backoff = Backoff(1.0, 5.0, 2.0, 0.5, rand=lambda: 0.35)
    assert backoff.duration() == 1.175
    assert backoff.duration() == 2.35


def test_jitter_never_exceeds_the_max() -> None:
    backoff = Backoff(1.0, 5.0, 2.0, 0.5, rand=lambda: 0.99)
    delays = [backoff.duration() for _ in range(10)]
    assert max(delays) == 5.0
    assert all(d > 0 for d in delays)


def test_defaults_are_socket_io_clients() -> None:
    backoff = Backoff()
    assert (backoff.min, backoff.max, backoff.factor, backoff.jitter) == (1.0, 5.0, 2.0, 0.5)


def test_delays_with_random_jitter_stay_within_the_band() -> None:
    backoff = Backoff(1.0, 100.0, 2.0, 0.5)
    for attempt in range(6):
        base = 2.0**attempt
        delay = backoff.duration()
        assert base * 0.5 - 1e-9 <= delay <= base * 1.5 + 1e-9
