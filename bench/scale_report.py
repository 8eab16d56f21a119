"""The table of a bench/scale.py run (bench/README.md, between the ``scale`` markers)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

LABELS = {"aiosocketio": "aiosocketio", "node": "Node socket.io 4.8 + redis-adapter"}


def _n(x: float | None, digits: int = 0) -> str:
    if x is None:
        return ""
    return f"{x:,.{digits}f}"


def _get(r: dict[str, Any], *path: str) -> Any:
    cur: Any = r
    for key in path:
        if not isinstance(cur, dict) or key not in cur:
            return None
        cur = cur[key]
    return cur


def _memory(r: dict[str, Any], key: str) -> str:
    mem = r.get(key)
    if not mem:
        return ""
    kib = [m["kib_per_conn"] for m in mem["per_process"]]
    return (
        f"{mem['kib_per_conn_mean']:.1f} KiB ({min(kib):.1f}-{max(kib):.1f}); "
        f"{mem['rss_total_mib']:,.0f} MiB in all"
    )


def _hold(r: dict[str, Any]) -> str:
    hold = r.get("hold")
    rep = r.get("clients_report")
    if not hold:
        return ""
    text = f"{hold['seconds']:,.0f} s"
    if rep:
        text += f", {rep['dropped']:,} dropped, {rep['pings']:,} pings answered"
    return text


def _single(r: dict[str, Any]) -> str:
    s = r.get("single")
    if not s:
        return ""
    first = sorted(x["first_ms"] for x in s["rounds"])[len(s["rounds"]) // 2]
    return (
        f"{_n(s['last_ms_median'], 1)} ms / {_n(s['last_ms_max'], 1)} ms "
        f"(the first client: {_n(first, 1)} ms)"
    )


ROWS: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
    (
        "processes x clients each",
        lambda r: f"{r['processes']} x {r['clients'] // r['processes']:,}",
    ),
    ("all clients connected in", lambda r: f"{_n(r.get('connect_seconds'), 1)} s"),
    ("held with heartbeats (pingInterval 25 s)", _hold),
    ("RSS per connection, mean of the processes (min-max)", lambda r: _memory(r, "memory")),
    ("… after the hold and the broadcasts", lambda r: _memory(r, "memory_after_broadcasts")),
    (
        "server CPU while holding, per client",
        lambda r: f"{_n(_get(r, 'hold', 'server_us_per_client_second'), 2)} µs/s",
    ),
    ("one broadcast to all: the last client has it after (median / worst)", _single),
    ("… deliveries per second", lambda r: _n(_get(r, "single", "deliveries_per_s"))),
    (
        "… server CPU per delivery (all processes; heartbeats excluded; median)",
        lambda r: f"{_n(_get(r, 'single', 'server_us_per_delivery'), 2)} µs",
    ),
    (
        "burst of broadcasts to all: deliveries per second",
        lambda r: _n(_get(r, "burst", "deliveries_per_s")),
    ),
    (
        "… server CPU per delivery (all processes; heartbeats excluded)",
        lambda r: f"{_n(_get(r, 'burst', 'server_us_per_delivery'), 2)} µs",
    ),
    (
        "broadcasts through Redis (to an empty room): messages per second",
        lambda r: _n(_get(r, "redis", "messages_per_s")),
    ),
    (
        "… Redis CPU per message (one PUBLISH, one copy per process)",
        lambda r: f"{_n(_get(r, 'redis', 'redis_us_per_message'), 2)} µs",
    ),
    (
        "… CPU per message: the sending process / each receiving one (heartbeats excluded)",
        lambda r: (
            f"{_n(_get(r, 'redis', 'origin_us_per_message'), 1)} µs / "
            f"{_n(_get(r, 'redis', 'receiver_us_per_message'), 1)} µs"
        ),
    ),
    (
        "CPU used by other jobs during the hold",
        lambda r: f"{_n(_get(r, 'hold', 'other_cpu_pct'), 0)}% of a core",
    ),
    ("result", lambda r: "ERROR: " + r["error"] if r.get("error") else "every check passed"),
]


def render_scale_markdown(data: dict[str, Any]) -> str:
    """A Markdown table: one column per server, one row per figure."""
    results = data["results"]
    p = data["params"]
    head = "| | " + " | ".join(LABELS.get(r["server"], r["server"]) for r in results) + " |"
    lines = [
        f"Run of {data['date']}: {p['clients']:,} WebSocket clients, {p['workers']} server "
        f"processes joined by one Redis, {data['cores']} cores shared by the servers, the "
        f"load generators and Redis; load average before the run "
        f"{data['loadavg_before'][0]:.2f}.",
        "",
        head,
        "|---" * (len(results) + 1) + "|",
    ]
    for label, cell in ROWS:
        cells = []
        for r in results:
            try:
                cells.append(cell(r))
            except (KeyError, TypeError, ValueError):
                cells.append("")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
