"""OpenTelemetry spans for a server's event handlers and acknowledgements (optional).

Off by default. ``trace(io)`` turns them on with ``opentelemetry-api`` (the ``tracing``
extra); the spans go wherever the application's OpenTelemetry SDK sends them::

    from aiosocketio.tracing import trace

    trace(io)                 # the global tracer provider
    trace(io, tracer_provider=provider)

Spans (kind ``CONSUMER`` for a handler, ``PRODUCER`` for an acknowledgement):

* ``socketio event <event>``: one per handler call, from the call until its awaitable is
  done (an async handler's whole run); an exception is recorded and sets the status;
* ``socketio ack <event>``: from ``socket.emit_with_ack`` until the client's answer (an
  :class:`~aiosocketio.exceptions.AckTimeout` or a disconnection ends it in error).

Attributes: ``messaging.system`` (``"socket.io"``), ``messaging.destination.name`` (the
namespace), ``messaging.operation.name`` (the event) and ``socketio.socket_id``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from opentelemetry import trace as otel
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer, TracerProvider

from aiosocketio.runtime.events import is_awaitable
from aiosocketio.server import Server, Socket

__all__ = ["OpenTelemetryTracer", "trace"]


class OpenTelemetryTracer:
    """The server's :class:`~aiosocketio.server.socket.EventTracer` on OpenTelemetry.

    Args:
        tracer: the OpenTelemetry tracer the spans are made with.
    """

    def __init__(self, tracer: Tracer) -> None:
        self.tracer = tracer

    def _start(self, name: str, kind: SpanKind, socket: Socket, event: Any) -> Span:
        return self.tracer.start_span(
            f"socketio {name} {event}",
            kind=kind,
            attributes={
                "messaging.system": "socket.io",
                "messaging.destination.name": socket.nsp.name,
                "messaging.operation.name": str(event),
                "socketio.socket_id": socket.id,
            },
        )

    def wrap(self, socket: Socket, event: Any, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` run in a ``socketio event`` span (until its awaitable is done)."""

        @functools.wraps(fn)
        def traced(*args: Any, **kwargs: Any) -> Any:
            span = self._start("event", SpanKind.CONSUMER, socket, event)
            with otel.use_span(span, end_on_exit=False):
                try:
                    result = fn(*args, **kwargs)
                except BaseException as exc:
                    _failed(span, exc)
                    span.end()
                    raise
            if is_awaitable(result):
                return _finish_later(span, result)
            span.end()
            return result

        return traced

    def ack(self, socket: Socket, event: Any) -> Callable[[BaseException | None], None]:
        """Start a ``socketio ack`` span; the returned function ends it."""
        span = self._start("ack", SpanKind.PRODUCER, socket, event)

        def end(error: BaseException | None) -> None:
            if error is not None:
                _failed(span, error)
            span.end()

        return end


def _failed(span: Span, exc: BaseException) -> None:
    span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))


async def _finish_later(span: Span, pending: Any) -> Any:
    with otel.use_span(span, end_on_exit=False):
        try:
            return await pending
        except BaseException as exc:
            _failed(span, exc)
            raise
        finally:
            span.end()


def trace(server: Server, tracer_provider: TracerProvider | None = None) -> OpenTelemetryTracer:
    """Trace ``server``'s event handlers and acknowledgements with OpenTelemetry."""
    tracer = OpenTelemetryTracer(otel.get_tracer("aiosocketio", tracer_provider=tracer_provider))
    server.tracer = tracer
    return tracer
