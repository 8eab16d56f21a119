"""The validation engines on the typed-events workload: msgspec against pydantic v2.

For each payload type a handler might declare (a TypedDict, a dataclass, a nested
dataclass with a list, a plain ``list[int]``, and each engine's own class: a msgspec
Struct against a pydantic model), the time to check and convert one decoded
JSON payload, valid and invalid (the invalid one is rejected with its error text), the way
:mod:`aiosocketio.server.validation` calls each engine. Best of several ``timeit`` runs, in
nanoseconds per payload.

Usage::

    .venv/bin/python bench/micro_validation.py [--number N] [--repeat R]
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import timeit
from collections.abc import Callable
from typing import Any

import msgspec
import pydantic
from typing_extensions import TypedDict  # pydantic refuses typing.TypedDict before 3.12


class ChatMessage(TypedDict):
    room: str
    text: str


@dataclasses.dataclass
class Move:
    x: int
    y: int


@dataclasses.dataclass
class Line:
    item: str
    quantity: int


@dataclasses.dataclass
class Order:
    customer: str
    lines: list[Line]
    note: str | None = None


class ItemStruct(msgspec.Struct):
    item: str
    quantity: int


class ItemModel(pydantic.BaseModel):
    item: str
    quantity: int


CASES: list[tuple[str, Any, Any, Any]] = [
    ("TypedDict", ChatMessage, {"room": "r1", "text": "hello"}, {"room": "r1", "text": 5}),
    ("dataclass", Move, {"x": 1, "y": 2}, {"x": "1", "y": 2}),
    (
        "nested dataclass",
        Order,
        {"customer": "ada", "lines": [{"item": "tea", "quantity": 2}] * 5},
        {"customer": "ada", "lines": [{"item": "tea", "quantity": "2"}] * 5},
    ),
    ("list[int] (20)", list[int], list(range(20)), [*range(19), "x"]),
    ("Struct / model", None, {"item": "tea", "quantity": 2}, {"item": "tea", "quantity": "x"}),
]


def msgspec_check(tp: Any) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        try:
            return msgspec.convert(value, tp, strict=True)
        except msgspec.ValidationError as exc:
            return str(exc)

    return check


def pydantic_check(tp: Any) -> Callable[[Any], Any]:
    adapter = pydantic.TypeAdapter(tp)

    def check(value: Any) -> Any:
        try:
            return adapter.validate_python(value)
        except pydantic.ValidationError as exc:
            return exc.errors()

    return check


def best(fn: Callable[[], Any], number: int, repeat: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--number", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    head = ["msgspec ok", "pydantic ok", "msgspec bad", "pydantic bad"]
    print(f"{'payload':<20}" + "".join(f"{h:>14}" for h in head))
    for name, tp, good, bad in CASES:
        if tp is None:  # each engine's own class
            m, p = msgspec_check(ItemStruct), pydantic_check(ItemModel)
        else:
            m, p = msgspec_check(tp), pydantic_check(tp)
        row = [
            best(functools.partial(check, value), args.number, args.repeat)
            for check, value in ((m, good), (p, good), (m, bad), (p, bad))
        ]
        print(f"{name:<20}" + "".join(f"{v:>11.0f} ns" for v in row))


if __name__ == "__main__":
    main()
