"""Turn a results dict (bench/results/<date>.json) into a console table and Markdown."""

from __future__ import annotations

from typing import Any

_PEER_OF = {
    "aiosocketio": "python-socketio",
    "aiosocketio-asgi": "python-socketio-asgi",
    "asgi-floor": "python-socketio-asgi",
}
# The rows that get ratios: ours, and the bare ASGI app (the most any ASGI app can reach).
_OURS = ("aiosocketio", "aiosocketio-asgi", "asgi-floor")
_HEADERS = (
    "scenario",
    "server",
    "throughput",
    "p50 / p99 ms",
    "server µs/msg",
    "server CPU",
    "loadgen CPU",
    "RSS",
    "vs Node",
    "vs python-socketio",
    "notes",
)


def _saturated(r: dict[str, Any]) -> bool:
    return bool(r.get("loadgen_saturated"))


def ratio(ours: dict[str, Any], peer: dict[str, Any] | None) -> str:
    """ "<throughput ratio> / cpu <efficiency ratio>" of aiosocketio over a peer.

    The throughput ratio is ours ÷ peer; the efficiency ratio is the peer's server µs per
    message ÷ ours. When a load generator was above 80% of its core the throughput ratio is
    left out (it measures the load generator) and the efficiency ratio is the one to read.
    For connect and hold, "mem" is RSS per connection, ours ÷ peer (lower is better).
    """
    if peer is None or (peer.get("error") and not peer.get("value")):
        return ""
    if ours["scenario"] == "hold":
        sa, sb = ours["extra"].get("steps") or [], peer["extra"].get("steps") or []
        if sa and sb and sb[-1]["rss_per_conn_kib"]:
            return f"mem {sa[-1]['rss_per_conn_kib'] / sb[-1]['rss_per_conn_kib']:.2f}x"
        return ""
    parts = []
    if peer.get("value") and not (_saturated(ours) or _saturated(peer)):
        parts.append(f"{ours['value'] / peer['value']:.2f}x")
    a, b = ours.get("server_us_per_msg"), peer.get("server_us_per_msg")
    if a and b:
        parts.append(f"cpu {b / a:.2f}x")
    if ours["scenario"] == "connect":
        ma = ours["extra"].get("rss_per_conn_kib")
        mb = peer["extra"].get("rss_per_conn_kib")
        if ma and mb:
            parts.append(f"mem {ma / mb:.2f}x")
    return " / ".join(parts)


def _fmt_value(r: dict[str, Any]) -> str:
    if not r.get("unit"):
        return "—"
    v = r["value"]
    return f"{v:,.1f} {r['unit']}" if v < 100 else f"{v:,.0f} {r['unit']}"


def _rss(r: dict[str, Any]) -> str:
    extra = r.get("extra") or {}
    if r["scenario"] == "hold" and extra.get("steps"):
        return ", ".join(
            f"{s['clients']:,}: {s['rss_per_conn_kib']:.1f} KiB/conn" for s in extra["steps"]
        )
    if "rss_per_conn_kib" in extra:
        return f"{extra['rss_per_conn_kib']:.1f} KiB/conn ({extra['rss_kib'] / 1024:.0f} MiB)"
    if extra.get("rss_kib"):
        return f"{extra['rss_kib'] / 1024:.0f} MiB"
    return ""


def rows(data: dict[str, Any]) -> list[list[str]]:
    """One row per result, with ratios for aiosocketio's rows."""
    results = data["results"]
    by_key = {(r["scenario"], r["server"]): r for r in results}
    out = []
    for r in results:
        extra = r.get("extra") or {}
        lat = ""
        if extra.get("p50_us") is not None and r["scenario"] in ("echo", "polling", "binary"):
            lat = f"{extra['p50_us'] / 1000:.2f} / {extra['p99_us'] / 1000:.2f}"
        us = r.get("server_us_per_msg")
        scpu = r.get("server_cpu_pct")
        lcpu = r.get("loadgen_cpu_pct") if r["scenario"] != "hold" else None
        vs_node = vs_py = ""
        if r["server"] in _OURS:
            vs_node = ratio(r, by_key.get((r["scenario"], "node")))
            vs_py = ratio(r, by_key.get((r["scenario"], _PEER_OF[r["server"]])))
        notes = []
        if r.get("error"):
            notes.append(f"ERROR: {r['error']}")
        if r.get("loadgen_saturated"):
            notes.append("loadgen >80%")
        other = extra.get("core0_other_pct")
        if other is not None and other >= 10:
            notes.append(f"other jobs on core 0: {other:.0f}%")
        if r["scenario"] == "hold":
            notes.append(f"{extra.get('pings', 0)} pings, {r['seconds']:.0f} s held")
        if r["server"] == "aiosocketio-metrics":
            cost = metrics_cost(data, r["scenario"])
            if cost is not None:
                notes.append(f"metrics cost {cost[0]:+.1f}%" + (f" ({cost[1]})" if cost[1] else ""))
        out.append(
            [
                r["scenario"],
                r["server"],
                _fmt_value(r),
                lat,
                f"{us:.2f}" if us else "",
                f"{scpu:.0f}%" if scpu is not None else "",
                f"{lcpu:.0f}%" if lcpu is not None else "",
                _rss(r),
                vs_node,
                vs_py,
                "; ".join(notes),
            ]
        )
    return out


def _get(data: dict[str, Any], scenario: str, server: str) -> dict[str, Any] | None:
    for r in data["results"]:
        if r["scenario"] == scenario and r["server"] == server and not r.get("error"):
            found: dict[str, Any] = r
            return found
    return None


def _contended(r: dict[str, Any]) -> bool:
    """Other jobs took 10% or more of the server's core during the measurement."""
    return float((r.get("extra") or {}).get("core0_other_pct") or 0.0) >= 10.0


def _x(ours: dict[str, Any] | None, peer: dict[str, Any] | None) -> tuple[float, str] | None:
    """(ratio, how): the throughput ratio, or the CPU-efficiency ratio (peer µs per message
    ÷ ours) when a load generator saturated or other jobs shared the server core, because
    then the throughput measures the machine rather than the server."""
    if not ours or not peer or not peer.get("value"):
        return None
    if _saturated(ours) or _saturated(peer) or _contended(ours) or _contended(peer):
        a, b = ours.get("server_us_per_msg"), peer.get("server_us_per_msg")
        return (b / a, "cpu") if a and b else None
    return float(ours["value"]) / float(peer["value"]), ""


def metrics_cost(data: dict[str, Any], scenario: str) -> tuple[float, str] | None:
    """(percent, how): what the Prometheus exporter costs in ``scenario``: the time per
    message with metrics on over the time without, minus one (from throughput, or from
    server CPU per message as :func:`_x` chooses)."""
    x = _x(_get(data, scenario, "aiosocketio-metrics"), _get(data, scenario, "aiosocketio"))
    if x is None or not x[0]:
        return None
    return (1.0 / x[0] - 1.0) * 100.0, x[1]


def _fx(v: tuple[float, str] | None) -> str:
    if v is None:
        return "n/a"
    return f"{v[0]:.2f}x" + (f" ({v[1]})" if v[1] else "")


def targets(data: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Issue 7's targets checked against a run: (target, result, verdict)."""
    out: list[tuple[str, str, str]] = []

    def verdict(ok: bool | None) -> str:
        return "n/a" if ok is None else ("met" if ok else "NOT met")

    b, bn, bp = (_get(data, "broadcast", s) for s in ("aiosocketio", "node", "python-socketio"))
    xn, xp = _x(b, bn), _x(b, bp)
    out.append(
        (
            "broadcast >= 2x Node, >= 10x python-socketio",
            f"{_fx(xn)} Node, {_fx(xp)} python-socketio",
            verdict(None if xn is None or xp is None else xn[0] >= 2 and xp[0] >= 10),
        )
    )
    e, en, ep = (_get(data, "echo", s) for s in ("aiosocketio", "node", "python-socketio"))
    xn, xp = _x(e, en), _x(e, ep)
    p99 = p99n = None
    if e and en:
        p99, p99n = e["extra"].get("p99_us"), en["extra"].get("p99_us")
    lat = f"; p99 {p99 / 1000:.2f} ms vs Node {p99n / 1000:.2f} ms" if p99 and p99n else ""
    ok = (
        None
        if xn is None or xp is None or not p99 or not p99n
        else (xn[0] >= 1.2 and xp[0] >= 4 and p99 <= p99n)
    )
    echo_verdict = verdict(ok)
    if ok is False and e and en and (_contended(e) or _contended(en)):
        echo_verdict = "inconclusive: other jobs shared the server core (latency too)"
    out.append(
        (
            "echo >= 1.2x Node, >= 4x python-socketio, p99 <= Node",
            f"{_fx(xn)} Node, {_fx(xp)} python-socketio{lat}",
            echo_verdict,
        )
    )
    h, hn = _get(data, "hold", "aiosocketio"), _get(data, "hold", "node")
    c, cn = _get(data, "connect", "aiosocketio"), _get(data, "connect", "node")
    mine = theirs = None
    if h and hn and h["extra"].get("steps") and hn["extra"].get("steps"):
        mine = h["extra"]["steps"][-1]["rss_per_conn_kib"]
        theirs = hn["extra"]["steps"][-1]["rss_per_conn_kib"]
    elif c and cn:
        mine, theirs = c["extra"].get("rss_per_conn_kib"), cn["extra"].get("rss_per_conn_kib")
    out.append(
        (
            "memory per idle connection <= Node",
            f"{mine:.1f} KiB vs Node {theirs:.1f} KiB" if mine and theirs else "n/a",
            verdict(None if not mine or not theirs else mine <= theirs),
        )
    )
    if h:
        steps = h["extra"].get("steps") or []
        flat = ", ".join(f"{st['rss_per_conn_kib']:.1f}" for st in steps)
        held = h["value"]
        out.append(
            (
                "15,000 clients held 5 min with heartbeats, none dropped",
                f"{held:,.0f} held {h['seconds']:.0f} s, {h['extra'].get('dropped', 0)} dropped, "
                f"{h['extra'].get('pings', 0):,} pings; KiB/conn per step: {flat}",
                verdict(held >= 15000 and h["seconds"] >= 299 and not h["extra"].get("dropped")),
            )
        )
    costs = {sc: metrics_cost(data, sc) for sc in ("echo", "broadcast")}
    known = {sc: c for sc, c in costs.items() if c is not None}
    out.append(
        (
            "Prometheus metrics on (scraped every second) cost <= 5% on echo and broadcast",
            ", ".join(
                f"{sc} {c[0]:+.1f}%" + (f" ({c[1]})" if c[1] else "") for sc, c in known.items()
            )
            or "n/a",
            verdict(None if len(known) < 2 else all(c[0] <= 5.0 for c in known.values())),
        )
    )
    ratios = []
    oks = []
    bounded = []
    for sc in ("connect", "echo", "broadcast", "rooms", "polling", "binary"):
        peer = _get(data, sc, "python-socketio-asgi")
        x = _x(_get(data, sc, "aiosocketio-asgi"), peer)
        if x is None:
            continue
        floor = _x(_get(data, sc, "asgi-floor"), peer)
        ratios.append(f"{sc} {_fx(x)}" + (f" (bare ASGI app {_fx(floor)})" if floor else ""))
        oks.append(x[0] >= 3)
        if x[0] < 3 and floor is not None and floor[0] < 3.3:
            bounded.append(sc)
    asgi_verdict = "n/a"
    if oks:
        asgi_verdict = "met" if all(oks) else f"met in {sum(oks)} of {len(oks)}"
        if bounded:
            asgi_verdict += (
                f"; {', '.join(bounded)}: uvicorn's own cost leaves even a bare ASGI app "
                "at or below 3.3x"
            )
    out.append(
        (
            "ASGI under uvicorn >= 3x python-socketio under uvicorn",
            ", ".join(ratios) or "n/a",
            asgi_verdict,
        )
    )
    return out


_SUMMARY_COLUMNS = (
    ("aiosocketio", "aiosocketio", None),
    ("node", "Node socket.io", "aiosocketio"),
    ("python-socketio", "python-socketio", "aiosocketio"),
    ("aiosocketio-asgi", "aiosocketio ASGI", None),
    ("python-socketio-asgi", "python-socketio ASGI", "aiosocketio-asgi"),
    ("asgi-floor", "bare ASGI app (its ratio: the ceiling over python-socketio ASGI)", None),
)
_TIMES = "\u00d7"  # the multiplication sign of the README's ratios
_SUMMARY_ROWS = (
    ("broadcast", f"broadcast: 1,000 clients {_TIMES} 100 emits (deliveries/s)"),
    ("echo", f"echo: 50 clients {_TIMES} 10 acks in flight (acks/s)"),
    ("echo-latency", "echo latency p50 / p99 (ms)"),
    ("rooms", "rooms: 1,000 clients in 100 rooms (deliveries/s)"),
    ("polling", "polling: 200 polling clients echoing (acks/s)"),
    ("binary", "binary: 64 KiB echo (MB/s; server µs/msg)"),
    ("connect", "connect: 10,000 WebSocket clients (handshakes/s)"),
    ("memory", "memory per idle connection at 15,000 clients"),
    ("cluster", "cluster: 2 processes + Redis, broadcast (deliveries/s)"),
)


def _round(v: float) -> str:
    """Three significant figures, thousands separated (2,774,493 -> 2,770,000)."""
    if v >= 1000:
        digits = len(str(int(v)))
        step = 10 ** max(digits - 3, 0)
        return f"{round(v / step) * step:,.0f}"
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


def _summary_cell(data: dict[str, Any], row: str, server: str, versus: str | None) -> str:
    scenario = {"echo-latency": "echo", "memory": "hold"}.get(row, row)
    r = _get(data, scenario, server)
    reordered = False
    if r is None:
        # a run that delivered everything but out of order still has its throughput
        r = next(
            (
                x
                for x in data["results"]
                if x["scenario"] == scenario and x["server"] == server and x.get("value")
            ),
            None,
        )
        if r is None or "order_errors" not in str(r.get("error")):
            return ""
        reordered = True
    if row == "echo-latency":
        e = r["extra"]
        return f"{e['p50_us'] / 1000:.2f} / {e['p99_us'] / 1000:.2f}"
    if row == "memory":
        steps = r["extra"].get("steps") or []
        return f"{steps[-1]['rss_per_conn_kib']:.1f} KiB" if steps else ""
    cell = _round(r["value"])
    if row == "binary":
        cell += f"; {r['server_us_per_msg']:.0f}"
    if server == "asgi-floor":
        ours, r = r, _get(data, scenario, "python-socketio-asgi")
    else:
        ours = _get(data, scenario, versus) if versus else None
    x = _x(ours, r) if ours else None
    if x is not None:
        how = " cpu" if x[1] else ""
        cell += f" ({x[0]:.{1 if x[0] >= 10 else 2}f}{_TIMES}{how})"
    if reordered:
        cell += ", out of order"
    return cell


def render_summary(data: dict[str, Any]) -> str:
    """The README's benchmark table: one row per scenario, one column per server, with
    aiosocketio's ratio over each peer in parentheses (bold: the best figure of a row)."""
    head = "| scenario | " + " | ".join(label for _, label, _ in _SUMMARY_COLUMNS) + " |"
    lines = [head, "|" + "---|" * (len(_SUMMARY_COLUMNS) + 1)]
    for row, label in _SUMMARY_ROWS:
        cells = [_summary_cell(data, row, name, vs) for name, _, vs in _SUMMARY_COLUMNS]
        if not any(cells):
            continue
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def render_readme_block(data: dict[str, Any]) -> str:
    """What the project README shows: when and where the run was made, then the summary."""
    m = data["machine"]
    pk = m.get("packages") or {}
    versions = ", ".join(
        f"{k} {pk[k]}" for k in ("uvloop", "httptools", "uvicorn", "python-socketio") if k in pk
    )
    memory = str(m.get("memory", ""))
    if memory.endswith(" kB") and memory[:-3].isdigit():
        memory = f"{int(memory[:-3]) / 1024 / 1024:.0f} GiB"
    text = (
        f"Latest full run: {data['date']}, {data.get('elapsed_seconds', 0):.0f} s, on "
        f"{m.get('cpu')}, {m.get('cores')} cores, {memory}, Linux {m.get('kernel')}; "
        f"Python {m.get('python')}, Node {m.get('node')}, socket.io {m.get('socket.io (npm)')}"
        f"{'; ' + versions if versions else ''}.\n\n" + render_summary(data)
    )
    costs = [(sc, metrics_cost(data, sc)) for sc in ("echo", "broadcast")]
    if all(c is not None for _, c in costs):
        text += (
            "\nWith Prometheus metrics on (`aiosocketio.metrics.instrument`, scraped every "
            "second), each message costs "
            + " and ".join(f"{c[0]:+.1f}% on {sc}" for sc, c in costs if c is not None)
            + " (the bar: 5%; a negative figure is within the run-to-run noise).\n"
        )
    h = _get(data, "hold", "aiosocketio")
    steps = (h or {}).get("extra", {}).get("steps") or []
    if h and steps:
        per = ", ".join(f"{st['rss_per_conn_kib']:.1f}" for st in steps)
        at = ", ".join(f"{st['clients'] // 1000}k" for st in steps)
        text += (
            f"\nOne aiosocketio process held {h['value']:,.0f} clients for {h['seconds']:.0f} s "
            f"with heartbeats ({h['extra'].get('pings', 0):,} pings, "
            f"{h['extra'].get('dropped', 0)} dropped), at {per} KiB per connection at {at} "
            "clients.\n"
        )
    return text


def render_table(data: dict[str, Any]) -> str:
    """A plain-text table for the console."""
    body = rows(data)
    widths = [
        max(len(h), *(len(row[i]) for row in body)) if body else len(h)
        for i, h in enumerate(_HEADERS)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(_HEADERS, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in body]
    return "\n".join(lines)


def rerender(path: str) -> str:
    """Re-render bench/results/latest.md from a results file; returns the Markdown."""
    import json
    from pathlib import Path

    data = json.loads(Path(path).read_text())
    md = render_markdown(data)
    (Path(__file__).resolve().parent / "results" / "latest.md").write_text(md)
    return md


def render_markdown(data: dict[str, Any]) -> str:
    """The Markdown the README includes (bench/results/latest.md)."""
    m = data["machine"]
    pk = m.get("packages") or {}
    pkg = ", ".join(f"{k} {v}" for k, v in pk.items()) if isinstance(pk, dict) else str(pk)
    lines = [
        f"Run {data['date']}{' (--quick)' if data.get('quick') else ''}, "
        f"{data.get('elapsed_seconds', 0):.0f} s. Machine: {m.get('cpu')}, {m.get('cores')} cores, "
        f"kernel {m.get('kernel')}, {m.get('memory')}; Python {m.get('python')}, "
        f"Node {m.get('node')}, socket.io {m.get('socket.io (npm)')}; {pkg}. "
        "Server pinned to core 0, load generator to core 1.",
        "",
        "| " + " | ".join(_HEADERS) + " |",
        "|" + "|".join("---" for _ in _HEADERS) + "|",
    ]
    for row in rows(data):
        lines.append("| " + " | ".join(c.replace("|", "/") for c in row) + " |")
    lines += [
        "",
        "Targets of issue 7, checked against this run. (cpu) marks a ratio read from server CPU "
        "µs per message, because a load generator saturated or other jobs took 10% or more of "
        "the server core during one of the two measurements:",
        "",
        "| target | result | |",
        "|---|---|---|",
    ]
    lines += [f"| {t} | {r} | {v} |" for t, r, v in targets(data)]
    lines += [
        "",
        "Ratios: native vs Node and vs python-socketio on aiohttp; ASGI (and asgi-floor, a "
        "bare ASGI app with no library: the least any Socket.IO app can cost under this "
        "uvicorn) vs Node and vs python-socketio under the same uvicorn. First figure: "
        "throughput, ours ÷ peer (left out when a load generator was above 80% of its "
        "core). cpu: server CPU µs per message, "
        "peer ÷ ours (higher is better; the figure least disturbed by other load on the "
        "machine). mem: RSS per connection, ours ÷ peer (lower is better). Server CPU well "
        "below 100% with an idle load generator means the server waited for its core (other "
        "jobs on the machine).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    for arg in sys.argv[1:]:
        print(rerender(arg))
