"""bench/report.py: the verdicts and the README table are computed from a results file."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _report() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_report", BENCH / "report.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _result(scenario: str, server: str, value: float, us: float, **extra: Any) -> dict[str, Any]:
    saturated = bool(extra.pop("saturated", False))
    error = extra.pop("error", None)
    return {
        "scenario": scenario,
        "server": server,
        "value": value,
        "unit": "acks/s",
        "server_us_per_msg": us,
        "loadgen_saturated": saturated,
        "extra": extra,
        "error": error,
        "seconds": 5.0,
    }


def _data(results: list[dict[str, Any]]) -> dict[str, Any]:
    machine = {
        "cpu": "Test CPU",
        "cores": 2,
        "kernel": "6.1",
        "memory": "25165824 kB",
        "python": "3.11.7",
        "node": "v20",
        "socket.io (npm)": "4.8.4",
        "packages": {"uvicorn": "0.54.0"},
    }
    return {"date": "2026-11-26T06:00:00Z", "elapsed_seconds": 600, "machine": machine,
            "results": results}  # fmt: skip


def test_summary_ratios_read_cpu_when_the_load_generator_saturated() -> None:
    report = _report()
    data = _data(
        [
            _result("echo", "aiosocketio", 200_000, 5.0, p50_us=1000, p99_us=2000),
            _result("echo", "node", 100_000, 10.0, p50_us=3000, p99_us=4000),
            _result("echo", "python-socketio", 20_000, 50.0, p50_us=9000, p99_us=9900),
            _result("binary", "aiosocketio", 2000, 30.0, saturated=True),
            _result("binary", "node", 600, 105.0),
            _result("cluster", "aiosocketio", 2_000_000, 0.5),
            _result("cluster", "python-socketio", 25_000, 40.0, error="order_errors=4500"),
        ]
    )
    table = report.render_summary(data)
    echo = next(line for line in table.splitlines() if line.startswith("| echo: "))
    assert "| 200,000 | 100,000 (2.00\u00d7) | 20,000 (10.0\u00d7) |" in echo
    latency = next(line for line in table.splitlines() if line.startswith("| echo latency"))
    assert "| 1.00 / 2.00 | 3.00 / 4.00 | 9.00 / 9.90 |" in latency
    binary = next(line for line in table.splitlines() if line.startswith("| binary"))
    # the load generator saturated: the ratio is server CPU per message, 105 / 30
    assert "| 2,000; 30 | 600; 105 (3.50\u00d7 cpu) |" in binary
    cluster = next(line for line in table.splitlines() if line.startswith("| cluster"))
    assert "25,000 (80.0\u00d7), out of order" in cluster
    block = report.render_readme_block(data)
    assert block.startswith(
        "Latest full run: 2026-11-26T06:00:00Z, 600 s, on Test CPU, 2 cores, 24 GiB"
    )


def test_the_asgi_target_names_the_scenarios_the_bare_app_cannot_reach() -> None:
    report = _report()
    results = []
    for scenario, ours, floor in (("echo", 40.0, 30.0), ("connect", 200.0, 150.0)):
        results += [
            _result(scenario, "aiosocketio-asgi", 1000 / ours, ours),
            _result(scenario, "python-socketio-asgi", 1000 / 100.0, 100.0),
            _result(scenario, "asgi-floor", 1000 / floor, floor),
        ]
    # echo: ours 2.5x, floor 3.33x (reachable); connect: ours 0.5x, floor 0.67x (bounded)
    [asgi] = [t for t in report.targets(_data(results)) if t[0].startswith("ASGI")]
    assert asgi[1].startswith("connect 0.50x (bare ASGI app 0.67x), echo 2.50x")
    assert asgi[2] == (
        "met in 0 of 2; connect: uvicorn's own cost leaves even a bare ASGI app at or below 3.3x"
    )


def test_the_metrics_cost_is_the_time_per_message_with_metrics_on_over_without() -> None:
    report = _report()
    data = _data(
        [
            _result("echo", "aiosocketio", 100_000, 10.0, p50_us=900, p99_us=1500),
            _result("echo", "aiosocketio-metrics", 96_000, 10.4, p50_us=950, p99_us=1600),
            # the load generator saturated: read server CPU per message (+8%)
            _result("broadcast", "aiosocketio", 1_000_000, 1.0, saturated=True),
            _result("broadcast", "aiosocketio-metrics", 1_000_000, 1.08, saturated=True),
        ]
    )
    echo = report.metrics_cost(data, "echo")
    assert echo is not None and round(echo[0], 2) == 4.17 and echo[1] == ""
    broadcast = report.metrics_cost(data, "broadcast")
    assert broadcast is not None and round(broadcast[0], 2) == 8.0 and broadcast[1] == "cpu"
    [target] = [t for t in report.targets(data) if t[0].startswith("Prometheus")]
    assert target[1] == "echo +4.2%, broadcast +8.0% (cpu)"
    assert target[2] == "NOT met"
    assert "+4.2% on echo and +8.0% on broadcast (the bar: 5%" in report.render_readme_block(data)
    rows = {(r[0], r[1]): r for r in report.rows(data)}
    assert "metrics cost +4.2%" in rows[("echo", "aiosocketio-metrics")][-1]
