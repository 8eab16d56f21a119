"""Print the figures of every attack (RSS growth, the healthy client's worst gap, how the
server ended the connection), for the report of issue 12.

    python -m tests.abuse.measure [--target native|asgi|node] [--seconds 10]
        [--pythonpath DIR] [--only name,name]

``--pythonpath`` runs an older tree's ``src`` (to measure "before"). Not a test: it runs
longer than the suite's bounded tests and asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from tests.abuse.attacks import attacks
from tests.abuse.harness import measure, start_target


async def run(args: argparse.Namespace) -> None:
    names = args.only.split(",") if args.only else list(attacks())
    options: dict[str, Any] = json.loads(args.options)
    for name in names:
        attack = attacks()[name]
        server = start_target(
            args.target,
            options,
            http=args.http,
            ws=args.ws,
            uvicorn=json.loads(args.uvicorn),
            pythonpath=args.pythonpath,
        )
        try:
            result = await measure(server, attack, args.seconds, settle=args.settle)
            line = {"attack": name, "target": args.target, **result.summary()}
            line["stats"] = result.stats
            print(json.dumps(line), flush=True)
        except Exception as exc:  # keep measuring the others
            print(json.dumps({"attack": name, "target": args.target, "error": repr(exc)}))
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", default="native", choices=("native", "asgi", "node"))
    parser.add_argument("--http", default="httptools")
    parser.add_argument("--ws", default="websockets-sansio")
    parser.add_argument("--uvicorn", default="{}")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--settle", type=float, default=1.0)
    parser.add_argument("--pythonpath", default=None)
    parser.add_argument("--options", default="{}")
    parser.add_argument("--only", default="")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
