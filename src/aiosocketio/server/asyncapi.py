"""The AsyncAPI 3.0 document of a server's typed namespaces (``aiosocketio asyncapi app:io``).

Made from the :class:`~aiosocketio.server.contract.TypedNamespace` objects attached to the
server:

* each namespace is a channel (its address is the namespace's name);
* each event the namespace receives is a message and a ``receive`` operation; each event
  it sends (the ``sends`` Protocol's methods) a message and a ``send`` operation;
* a payload of one argument is that argument's schema; several arguments are an array
  with one item schema per argument (``items`` as a list, ``additionalItems: false``);
* the acknowledgement of a received event is the operation's ``reply``: the handler's
  return annotation, and the validation rejection (``{"error": "validation", ...}``), which
  the ``error`` event also carries when no acknowledgement was asked for;
* the schemas come from msgspec (``msgspec.json.schema_components``) and, for pydantic
  models, from pydantic; named types go to ``components.schemas``.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable, Iterable
from typing import Any

from aiosocketio.server.contract import TypedNamespace, attached
from aiosocketio.server.validation import REJECTED_EVENT

__all__ = ["REJECTION_SCHEMA", "asyncapi_document"]

_REF = "#/components/schemas/"

REJECTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "ValidationRejection",
    "description": "A payload did not fit the handler's annotations.",
    "properties": {
        "error": {"const": "validation"},
        "event": {"type": "string"},
        "detail": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "arg": {"type": "integer", "description": "the argument's index"},
                    "param": {"type": "string", "description": "the parameter's name"},
                    "path": {"type": "string", "description": "a JSON path inside it"},
                    "message": {"type": "string"},
                },
                "required": ["arg", "param", "path", "message"],
            },
        },
    },
    "required": ["error", "event", "detail"],
}


class _Schemas:
    """Turns annotations into JSON Schemas; named types are kept as components."""

    def __init__(self) -> None:
        self.components: dict[str, Any] = {"ValidationRejection": REJECTION_SCHEMA}

    def of(self, tp: Any) -> dict[str, Any]:
        if tp is Any or tp is object or tp is inspect.Parameter.empty:
            return {}
        try:
            import pydantic

            if isinstance(tp, type) and issubclass(tp, pydantic.BaseModel):
                self.components[tp.__name__] = self._pydantic(tp)
                return {"$ref": _REF + tp.__name__}
        except ImportError:  # pragma: no cover - the dev extra installs it
            pass
        try:
            import msgspec
        except ImportError:  # pragma: no cover
            return self._pydantic(tp)
        (schema,), components = msgspec.json.schema_components([tp], ref_template=_REF + "{name}")
        self.components.update(components)
        return dict(schema)

    def _pydantic(self, tp: Any) -> dict[str, Any]:
        import pydantic

        schema = pydantic.TypeAdapter(tp).json_schema(ref_template=_REF + "{model}")
        self.components.update(schema.pop("$defs", {}))
        return schema

    def payload(self, params: list[tuple[str, Any]]) -> dict[str, Any]:
        if len(params) == 1:
            return self.of(params[0][1])
        return {
            "type": "array",
            "items": [{"title": name, **self.of(tp)} for name, tp in params],
            "additionalItems": False,
        }


def _params(fn: Callable[..., Any], skip: int) -> tuple[list[tuple[str, Any]], Any, bool]:
    """``fn``'s payload parameters (after ``skip`` ones), its return type, and whether it
    takes a Node-style ``ack``/``callback``."""
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception:
        hints = {}
    params: list[tuple[str, Any]] = []
    node_ack = False
    positional = [
        p
        for p in inspect.signature(fn).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ][skip:]
    for param in positional:
        if param.name in ("ack", "callback"):
            node_ack = True
            continue
        params.append((param.name, hints.get(param.name, Any)))
    return params, hints.get("return", Any), node_ack


def _id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text) or "root"


def _channel_id(name: str) -> str:
    return "root" if name == "/" else _id(name.strip("/"))


def _doc(fn: Any) -> str:
    return inspect.cleandoc(fn.__doc__) if getattr(fn, "__doc__", None) else ""


def _namespace(
    nsp: TypedNamespace[Any], schemas: _Schemas, channels: dict[str, Any], ops: dict[str, Any]
) -> None:
    cid = _channel_id(nsp.name)
    ref = {"$ref": f"#/channels/{cid}"}
    messages: dict[str, Any] = {}
    channel: dict[str, Any] = {"address": nsp.name, "title": f"namespace {nsp.name}"}
    if nsp.description:
        channel["description"] = nsp.description
    channel["messages"] = messages

    def message_ref(mid: str) -> dict[str, str]:
        return {"$ref": f"#/channels/{cid}/messages/{mid}"}

    rejection_id = "validationRejection"
    for event, fn in nsp.handlers.items():
        params, returns, node_ack = _params(fn, 1)
        mid = _id(event)
        message: dict[str, Any] = {"name": event, "payload": schemas.payload(params)}
        if _doc(fn):
            message["summary"] = _doc(fn).splitlines()[0]
        messages[mid] = message
        op: dict[str, Any] = {
            "action": "receive",
            "channel": ref,
            "messages": [message_ref(mid)],
            "summary": f"the client emits {event!r}",
        }
        replies = []
        if not node_ack and returns not in (Any, type(None), None):
            messages[f"{mid}.ack"] = {
                "name": f"{event} (acknowledgement)",
                "payload": schemas.of(returns),
            }
            replies.append(message_ref(f"{mid}.ack"))
        if any(tp not in (Any, object) for _, tp in params):
            messages[rejection_id] = {
                "name": f"{REJECTED_EVENT} (validation rejection)",
                "summary": "the acknowledgement of a rejected payload, or the error event",
                "payload": {"$ref": _REF + "ValidationRejection"},
            }
            replies.append(message_ref(rejection_id))
        if replies:
            op["reply"] = {"channel": ref, "messages": replies}
        ops[f"{cid}.receive.{mid}"] = op
    if rejection_id in messages:
        ops[f"{cid}.send.{REJECTED_EVENT}"] = {
            "action": "send",
            "channel": ref,
            "messages": [message_ref(rejection_id)],
            "summary": "a payload sent without an acknowledgement was rejected",
        }
    sends = nsp.sends
    for name, method in _methods(sends):
        params, _, _ = _params(method, 1)  # after self
        mid = _id(name)
        if mid in messages:
            mid = f"{mid}.sent"
        messages[mid] = {"name": name, "payload": schemas.payload(params)}
        if _doc(method):
            messages[mid]["summary"] = _doc(method).splitlines()[0]
        ops[f"{cid}.send.{_id(name)}"] = {
            "action": "send",
            "channel": ref,
            "messages": [message_ref(mid)],
            "summary": f"the server emits {name!r}",
        }
    channels[cid] = channel


def _methods(proto: Any) -> Iterable[tuple[str, Any]]:
    if proto is None:
        return ()
    return [(n, v) for n, v in vars(proto).items() if not n.startswith("_") and callable(v)]


def asyncapi_document(
    server: Any, *, title: str = "Socket.IO API", version: str = "1.0.0", description: str = ""
) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of ``server``'s typed namespaces (a JSON-ready dict)."""
    schemas = _Schemas()
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for nsp in attached(server):
        _namespace(nsp, schemas, channels, operations)
    info: dict[str, Any] = {"title": title, "version": version}
    if description:
        info["description"] = description
    return {
        "asyncapi": "3.0.0",
        "info": info,
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas.components},
    }
