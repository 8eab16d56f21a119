"""The AsyncAPI 3.0 document of a server (``aiosocketio asyncapi app:io``).

Made from the :class:`~aiosocketio.server.contract.TypedNamespace` objects attached to the
server, and from the handlers its sockets registered with ``socket.on`` (each namespace's
:class:`~aiosocketio.server.catalog.HandlerCatalog`; ``aiosocketio.testing.probe_handlers``
fills them without live traffic):

* each namespace is a channel (its address is the namespace's name);
* each event the namespace receives is a message and a ``receive`` operation; each event
  it sends (the ``sends`` Protocol's methods) a message and a ``send`` operation;
* a payload of one argument is that argument's schema; several arguments are an array
  with one item schema per argument (``items`` as a list, ``additionalItems: false``);
* the acknowledgement of a received event is the operation's ``reply``: the handler's
  return annotation, and the validation rejection (``{"error": "validation", ...}``), which
  the ``error`` event also carries when no acknowledgement was asked for;
* a ``socket.on`` handler without annotations has a permissive payload schema; one that
  takes an ``ack`` callback, or whose code returns a value, has a permissive reply; the
  handlers of one event with different annotations make an ``allOf``; a dynamic
  namespace is one channel without an address, its matcher in its description;
* the schemas come from msgspec (``msgspec.json.schema_components``) and, for pydantic
  models, from pydantic; named types go to ``components.schemas``.
"""

from __future__ import annotations

import dis
import inspect
import re
from collections.abc import Callable, Iterable
from types import CodeType
from typing import Any

from aiosocketio.runtime.events import Listener
from aiosocketio.server.catalog import HandlerCatalog
from aiosocketio.server.contract import TypedNamespace, attached
from aiosocketio.server.validation import REJECTED_EVENT, payload_params

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


def _params(fn: Callable[..., Any], skip: int) -> tuple[list[tuple[str, Any]] | None, Any, bool]:
    """``fn``'s payload parameters after ``skip`` ones (None when its annotations cannot be
    resolved), its return type, and whether it takes a Node-style ``ack``/``callback``: the
    server's own readings (the listener's ack rule, validation's parameters)."""
    ack_param = Listener(fn, once=False).ack_param
    try:
        params, returns = payload_params(fn, ack_param, skip=skip)
    except Exception:  # validation logs it when the handler is registered
        return None, Any, ack_param is not None
    return params, returns, ack_param is not None


def _payload(schemas: _Schemas, params: list[tuple[str, Any]] | None) -> dict[str, Any]:
    return dict(_ANY_PAYLOAD) if params is None else schemas.payload(params)


def _id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text) or "root"


def _channel_id(name: str) -> str:
    return "root" if name == "/" else _id(name.strip("/"))


def _doc(fn: Any) -> str:
    return inspect.cleandoc(fn.__doc__) if getattr(fn, "__doc__", None) else ""


def _annotated(params: Iterable[tuple[str, Any]] | None) -> bool:
    return params is not None and any(
        tp not in (Any, object, inspect.Parameter.empty) for _, tp in params
    )


def _returns_value(code: CodeType | None) -> bool:
    """Whether a handler without a return annotation returns something (other than None)
    somewhere: a ``return`` of a value in its code (its return value answers the ack)."""
    if code is None:
        return False
    previous: dis.Instruction | None = None
    for ins in dis.get_instructions(code):
        if ins.opname == "RETURN_CONST" and ins.argval is not None:
            return True  # pragma: no cover - Python 3.12 and 3.13
        if ins.opname == "RETURN_VALUE" and not (
            previous is not None and previous.opname == "LOAD_CONST" and previous.argval is None
        ):
            return True
        previous = ins
    return False


_ANY_PAYLOAD: dict[str, Any] = {
    "description": "any arguments: the handler's parameters are not annotated",
}
_ANY_ACK: dict[str, Any] = {
    "description": "the arguments the handler acknowledges with (not annotated)",
}


class _Channel:
    """One channel (a namespace) being built: its messages and operations."""

    def __init__(
        self,
        cid: str,
        address: str | None,
        title: str,
        description: str,
        schemas: _Schemas,
        ops: dict[str, Any],
    ) -> None:
        self.cid = cid
        self.ref = {"$ref": f"#/channels/{cid}"}
        self.schemas = schemas
        self.ops = ops
        self.messages: dict[str, Any] = {}
        self.body: dict[str, Any] = {"address": address, "title": title}
        if description:
            self.body["description"] = description
        self.body["messages"] = self.messages
        self.received: set[str] = set()

    def message_ref(self, mid: str) -> dict[str, str]:
        return {"$ref": f"#/channels/{self.cid}/messages/{mid}"}

    def receive(
        self,
        event: str,
        payload: dict[str, Any],
        summary: str,
        ack: dict[str, Any] | None,
        validated: bool,
    ) -> None:
        """Add the client-to-server ``event``; ``ack`` is the schema of its
        acknowledgement, if it has one; ``validated``: the payload may be rejected."""
        self.received.add(event)
        mid = _id(event)
        message: dict[str, Any] = {"name": event, "payload": payload}
        if summary:
            message["summary"] = summary
        self.messages[mid] = message
        op: dict[str, Any] = {
            "action": "receive",
            "channel": self.ref,
            "messages": [self.message_ref(mid)],
            "summary": f"the client emits {event!r}",
        }
        replies = []
        if ack is not None:
            self.messages[f"{mid}.ack"] = {"name": f"{event} (acknowledgement)", "payload": ack}
            replies.append(self.message_ref(f"{mid}.ack"))
        if validated:
            self.messages[_REJECTION_ID] = {
                "name": f"{REJECTED_EVENT} (validation rejection)",
                "summary": "the acknowledgement of a rejected payload, or the error event",
                "payload": {"$ref": _REF + "ValidationRejection"},
            }
            replies.append(self.message_ref(_REJECTION_ID))
        if replies:
            op["reply"] = {"channel": self.ref, "messages": replies}
        self.ops[f"{self.cid}.receive.{mid}"] = op

    def send(self, name: str, payload: dict[str, Any], summary: str) -> None:
        """Add the server-to-client event ``name``."""
        mid = _id(name)
        if mid in self.messages:
            mid = f"{mid}.sent"
        self.messages[mid] = {"name": name, "payload": payload}
        if summary:
            self.messages[mid]["summary"] = summary
        self.ops[f"{self.cid}.send.{_id(name)}"] = {
            "action": "send",
            "channel": self.ref,
            "messages": [self.message_ref(mid)],
            "summary": f"the server emits {name!r}",
        }

    def finish(self, channels: dict[str, Any]) -> None:
        if _REJECTION_ID in self.messages:
            self.ops[f"{self.cid}.send.{REJECTED_EVENT}"] = {
                "action": "send",
                "channel": self.ref,
                "messages": [self.message_ref(_REJECTION_ID)],
                "summary": "a payload sent without an acknowledgement was rejected",
            }
        if self.body["address"] is None:
            del self.body["address"]  # unknown: a dynamic namespace's names
        channels[self.cid] = self.body


_REJECTION_ID = "validationRejection"


def _typed(nsp: TypedNamespace[Any], channel: _Channel) -> None:
    schemas = channel.schemas
    for event, fn in nsp.handlers.items():
        params, returns, node_ack = _params(fn, 1)
        if node_ack:
            ack: dict[str, Any] | None = dict(_ANY_ACK)
        elif returns not in (Any, type(None), None):
            ack = schemas.of(returns)
        else:
            ack = None
        summary = _doc(fn).splitlines()[0] if _doc(fn) else ""
        channel.receive(event, _payload(schemas, params), summary, ack, _annotated(params))
    for name, method in _methods(nsp.sends):
        params, _, _ = _params(method, 1)  # after self
        channel.send(
            name, _payload(schemas, params), _doc(method).splitlines()[0] if _doc(method) else ""
        )


def _catalogued(catalog: HandlerCatalog, channel: _Channel) -> None:
    """The events of ``socket.on`` handlers (those a typed namespace declared are skipped)."""
    schemas = channel.schemas
    for event, entries in catalog.events().items():
        if event in channel.received:
            continue
        payloads: list[dict[str, Any]] = []
        acks: list[dict[str, Any]] = []
        validated = False
        for entry in entries:
            if entry.resolved and _annotated(entry.params):
                validated = True
                payload = schemas.payload(list(entry.params))
                if entry.variadic:
                    payload.pop("additionalItems", None)  # *args: more may follow
                if payload not in payloads:
                    payloads.append(payload)
            if entry.ack_param is not None:
                ack: dict[str, Any] | None = dict(_ANY_ACK)
            elif not entry.resolved or entry.returns in (type(None), None):
                ack = None
            elif entry.returns is Any:
                ack = dict(_ANY_ACK) if _returns_value(entry.code) else None
            else:
                ack = schemas.of(entry.returns)
            if ack is not None and ack not in acks:
                acks.append(ack)
        if not payloads:
            payload = dict(_ANY_PAYLOAD)
        elif len(payloads) == 1:
            payload = payloads[0]
        else:  # several handlers: the payload goes to each of them
            payload = {"allOf": payloads}
        ack_schema: dict[str, Any] | None = None
        if len(acks) == 1:
            ack_schema = acks[0]
        elif acks:
            ack_schema = {"oneOf": acks}
        summary = next((e.doc for e in entries if e.doc), "")
        channel.receive(event, payload, summary, ack_schema, validated)


def _methods(proto: Any) -> Iterable[tuple[str, Any]]:
    if proto is None:
        return ()
    return [(n, v) for n, v in vars(proto).items() if not n.startswith("_") and callable(v)]


def asyncapi_document(
    server: Any, *, title: str = "Socket.IO API", version: str = "1.0.0", description: str = ""
) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of ``server`` (a JSON-ready dict): its typed namespaces,
    and the handlers its sockets registered with ``socket.on`` so far (each namespace's
    :attr:`~aiosocketio.server.namespace.Namespace.handler_catalog`).

    Handlers registered in a ``connection`` handler exist once a client has connected:
    ``await aiosocketio.testing.probe_handlers(server)`` connects one in-process client
    per namespace first (the ``aiosocketio asyncapi`` command does it by default).
    """
    schemas = _Schemas()
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    built: dict[str, _Channel] = {}

    def channel_of(name: str, describe: str) -> _Channel:
        channel = built.get(name)
        if channel is None:
            channel = built[name] = _Channel(
                _channel_id(name), name, f"namespace {name}", describe, schemas, operations
            )
        return channel

    for typed in attached(server):
        _typed(typed, channel_of(typed.name, typed.description))
    for nsp in getattr(server, "namespaces", {}).values():
        if nsp.parent is None and len(nsp.handler_catalog):
            _catalogued(nsp.handler_catalog, channel_of(nsp.name, ""))
    for index, parent in enumerate(getattr(server, "dynamic_namespaces", ()), 1):
        if len(parent.handler_catalog):
            cid = f"dynamic_{index}"
            channel = built[cid] = _Channel(
                cid, None, f"dynamic namespace {index}", _dynamic(parent), schemas, operations
            )
            channel.body["x-namespace-matcher"] = _matcher(parent)
            _catalogued(parent.handler_catalog, channel)
    for channel in built.values():
        channel.finish(channels)
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


def _matcher(parent: Any) -> str:
    matcher = parent.matcher
    if isinstance(matcher, re.Pattern):
        return f"regex {matcher.pattern}"
    return f"function {getattr(matcher, '__qualname__', repr(matcher))}"


def _dynamic(parent: Any) -> str:
    return (
        f"A dynamic namespace: the names accepted by the {_matcher(parent)} "
        "(its channel has no fixed address)."
    )
