"""Typed, validated events: a handler's parameter annotations are its schema.

``@socket.on("chat") async def chat(msg: ChatMessage)`` checks each payload against
``ChatMessage`` (a TypedDict, a dataclass, a msgspec ``Struct``, a pydantic model, or a plain
type such as ``int`` or ``list[str]``) before the handler runs, and the handler receives the
converted value (a dataclass instance, a Struct, a model). A payload that does not fit
never reaches the handler:

* if the client asked for an acknowledgement, the ack's one argument is
  ``{"error": "validation", "event": <event>, "detail": [...]}``;
* otherwise the socket emits ``error`` (:data:`REJECTED_EVENT`) with that same object;
* the server logs one line per socket and event (the event, the namespace, what did not fit).

Each item of ``detail`` is ``{"arg": <index of the argument>, "param": <parameter name>,
"path": <JSON path inside it, "$" for the argument itself>, "message": <what is wrong>}``.

The plan (:func:`check_for`) is made when the handler is registered, from its annotations,
once per code object: a handler without annotations (or annotated ``Any``/``object`` only)
gets no plan, and its events are dispatched exactly as before.

The engines (docs/guides/typed-events.md has the measurements behind the choice):
pydantic v2 (``pip install aiosocketio[pydantic]``), with its usual (lax) rules, for
pydantic models, TypedDicts, dataclasses and plain types; msgspec
(``pip install aiosocketio[msgspec]``), strict, for msgspec Structs, for
``typing.TypedDict`` on Python 3.11 (which pydantic refuses), and for everything when
pydantic is not installed.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import typing
from collections.abc import Callable, Sequence
from types import CodeType
from typing import Any

__all__ = [
    "REJECTED_EVENT",
    "ArgCheck",
    "EventCheck",
    "PayloadRejected",
    "check_for",
    "engine_for",
    "payload_params",
    "reject",
    "rejection",
    "to_builtins",
]

logger = logging.getLogger("aiosocketio.server")

REJECTED_EVENT = "error"
"""The event a socket emits when a payload without an acknowledgement is rejected."""

try:  # optional engines
    import msgspec as _msgspec
except ImportError:  # pragma: no cover - the dev extra installs it
    _msgspec = None  # type: ignore[assignment]
try:
    import pydantic as _pydantic
except ImportError:  # pragma: no cover - the dev extra installs it
    _pydantic = None  # type: ignore[assignment]


class PayloadRejected(Exception):
    """A payload does not fit the handler's annotations; ``detail`` says where."""

    def __init__(self, detail: list[dict[str, Any]]) -> None:
        super().__init__(detail)
        self.detail = detail


Converter = Callable[[Any], Any]


def _is_pydantic_model(tp: Any) -> bool:
    return _pydantic is not None and isinstance(tp, type) and issubclass(tp, _pydantic.BaseModel)


def _is_struct(tp: Any) -> bool:
    return _msgspec is not None and isinstance(tp, type) and issubclass(tp, _msgspec.Struct)


def engine_for(tp: Any) -> str | None:
    """Which engine checks ``tp``: "msgspec", "pydantic", or None if none is installed.

    A msgspec Struct goes to msgspec, a pydantic model to pydantic; anything else to
    pydantic when it can take it (it refuses ``typing.TypedDict`` before Python 3.12),
    else to msgspec.
    """
    if _is_struct(tp):
        return "msgspec"
    if _pydantic is not None:
        if _is_pydantic_model(tp):
            return "pydantic"
        try:
            _pydantic.TypeAdapter(tp)
        except _pydantic.PydanticUserError:
            pass  # typing.TypedDict on 3.11, ...
        else:
            return "pydantic"
    if _msgspec is not None:
        return "msgspec"
    return None


def _msgspec_converter(tp: Any) -> Converter:
    assert _msgspec is not None
    convert = _msgspec.convert
    error = _msgspec.ValidationError

    def check(value: Any) -> Any:
        try:
            return convert(value, tp, strict=True)
        except error as exc:
            text = str(exc)
            message, sep, where = text.rpartition(" - at `")
            if not sep:
                return _raise([("$", text)])
            return _raise([(where.rstrip("`"), message)])

    return check


def _pydantic_converter(tp: Any) -> Converter:
    assert _pydantic is not None
    adapter = _pydantic.TypeAdapter(tp)
    error = _pydantic.ValidationError

    def check(value: Any) -> Any:
        try:
            return adapter.validate_python(value)
        except error as exc:
            return _raise(
                [
                    ("$" + "".join(_path_part(p) for p in err["loc"]), err["msg"])
                    for err in exc.errors()
                ]
            )

    return check


def _path_part(part: Any) -> str:
    return f"[{part}]" if isinstance(part, int) else f".{part}"


def _raise(problems: list[tuple[str, str]]) -> Any:
    raise PayloadRejected([{"path": path, "message": message} for path, message in problems])


def converter_for(tp: Any) -> Converter | None:
    """The function that checks and converts a value to ``tp`` (None: no engine)."""
    engine = engine_for(tp)
    if engine == "msgspec":
        return _msgspec_converter(tp)
    if engine == "pydantic":
        return _pydantic_converter(tp)
    return None


class ArgCheck:
    """How one positional argument is checked."""

    __slots__ = ("convert", "index", "name", "type")

    def __init__(self, index: int, name: str, tp: Any, convert: Converter) -> None:
        self.index = index
        self.name = name
        self.type = tp
        self.convert = convert


class EventCheck:
    """A handler's plan: checks its arguments, returns them converted, or raises
    :class:`PayloadRejected` with every argument's problems."""

    __slots__ = ("args", "returns")

    def __init__(self, args: Sequence[ArgCheck], returns: Any) -> None:
        self.args = tuple(args)
        self.returns = returns

    def __call__(self, values: list[Any]) -> list[Any]:
        out = list(values)
        detail: list[dict[str, Any]] = []
        count = len(values)
        for arg in self.args:
            if arg.index >= count:
                continue  # a missing argument: the call reports it (handlers.describe_mismatch)
            try:
                out[arg.index] = arg.convert(values[arg.index])
            except PayloadRejected as exc:
                detail.extend({"arg": arg.index, "param": arg.name, **d} for d in exc.detail)
        if detail:
            raise PayloadRejected(detail)
        return out


_NO_CHECK: tuple[type, ...] = (object,)
_plans: dict[CodeType, EventCheck | None] = {}


def _skip(tp: Any) -> bool:
    return tp is Any or tp in _NO_CHECK or tp is inspect.Parameter.empty


def check_for(fn: Callable[..., Any], ack_param: str | None) -> EventCheck | None:
    """The plan for ``fn``'s annotated parameters, or None when it has none to check.

    Made once per code object (a handler defined in each connection handler is the same
    code): after the first, a handler costs one dict lookup. The code object is looked up
    before ``__annotations__`` is read, since reading it makes a dict on each function
    object (about 1 KiB per connection for a handful of handlers defined per connection).
    """
    func = getattr(fn, "__func__", fn)  # a bound method's function
    code = getattr(func, "__code__", None)
    if code is not None:
        try:
            return _plans[code]
        except KeyError:
            pass
    annotations = getattr(func, "__annotations__", None)
    if not annotations or (len(annotations) == 1 and "return" in annotations):
        plan = None
    else:
        plan = _make_plan(fn, ack_param)
    if code is not None:
        _plans[code] = plan
    return plan


def payload_params(
    fn: Callable[..., Any], ack_param: str | None, *, skip: int = 0
) -> tuple[list[tuple[str, Any]], Any]:
    """``fn``'s payload parameters, ``(name, annotation)`` in order (``Any`` where there is
    none; the ``ack_param``, the keyword-only ones and the first ``skip`` positional ones,
    such as a typed handler's ``socket`` or a method's ``self``, left out), and its return
    annotation.

    The one reading of a handler's signature, shared by the validation plan and the
    AsyncAPI document (:mod:`aiosocketio.server.catalog`).

    Raises:
        Exception: the annotations cannot be resolved (a ``NameError`` for a type defined
            in a function, ...), or the signature cannot be read.
    """
    hints = typing.get_type_hints(fn, include_extras=True)
    positional = [
        param
        for param in inspect.signature(fn).parameters.values()
        if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD)
    ][skip:]
    params = [(p.name, hints.get(p.name, Any)) for p in positional if p.name != ack_param]
    return params, hints.get("return", Any)


def _make_plan(fn: Callable[..., Any], ack_param: str | None) -> EventCheck | None:
    name = getattr(fn, "__qualname__", repr(fn))
    try:
        params, returns = payload_params(fn, ack_param)
    except Exception as exc:  # a NameError for a type defined in a function, ...
        logger.warning(
            "the annotations of %s cannot be resolved (%s: %s): its events are not validated",
            name,
            type(exc).__name__,
            exc,
        )
        return None
    args: list[ArgCheck] = []
    for index, (param_name, tp) in enumerate(params):
        if not _skip(tp):
            convert = converter_for(tp)
            if convert is None:
                logger.warning(
                    "%s: no validation engine is installed (pip install "
                    "'aiosocketio[pydantic]'): parameter %r is not checked",
                    name,
                    param_name,
                )
            else:
                args.append(ArgCheck(index, param_name, tp, convert))
    if not args:
        return None
    return EventCheck(args, returns)


def to_builtins(value: Any) -> Any:
    """A typed handler's answer as JSON values: a pydantic model, a msgspec Struct or a
    dataclass (inside a tuple too) becomes a dict; plain values are returned as they are."""
    if type(value) in _PLAIN:
        return value
    if isinstance(value, tuple):
        return tuple(to_builtins(v) for v in value)
    if _pydantic is not None and isinstance(value, _pydantic.BaseModel):
        return value.model_dump(mode="json")
    if _msgspec is not None:
        return _msgspec.to_builtins(value, builtin_types=(bytes,))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


_PLAIN = frozenset({type(None), bool, int, float, str, bytes, list, dict})


def rejection(event: Any, exc: PayloadRejected) -> dict[str, Any]:
    """What the client receives for a rejected payload (the ack's argument or the
    ``error`` event's)."""
    return {"error": "validation", "event": event, "detail": exc.detail}


class _Rejecting(typing.Protocol):
    @property
    def id(self) -> str: ...
    @property
    def nsp(self) -> Any: ...
    def emit(self, event: str, *args: Any) -> Any: ...


def reject(
    socket: _Rejecting, event: Any, exc: PayloadRejected, ack: Callable[..., Any] | None
) -> None:
    """Tell the client its payload of ``event`` was rejected (through ``ack`` if it asked
    for one, else the ``error`` event), and log it the first time for this socket and event."""
    payload = rejection(event, exc)
    if ack is not None:
        ack(payload)
    else:
        socket.emit(REJECTED_EVENT, payload)
    logged: set[Any] | None = getattr(socket, "_rejected_events", None)
    if logged is None:
        logged = set()
        try:
            setattr(socket, "_rejected_events", logged)  # noqa: B010 - not in the Protocol
        except AttributeError:
            pass
    if event in logged:
        return
    logged.add(event)
    logger.warning(
        "the payload of %r (socket %s, namespace %r) was rejected: %s (%s; later rejections "
        "of this event on this socket are not logged)",
        event,
        socket.id,
        socket.nsp.name,
        "; ".join(
            f"argument {d['arg']} ({d['param']}) at {d['path']}: {d['message']}" for d in exc.detail
        ),
        "answered in the ack" if ack is not None else f"emitted {REJECTED_EVENT!r}",
    )
