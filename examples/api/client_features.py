"""The client's resilience features: auth callables, retries, reconnection, recovery.

Translates socket.io-client's documentation examples ("Delivery guarantees", "Connection
state recovery", the Manager's reconnection events) with a server in the same process::

    python examples/api/client_features.py --port 0
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
from collections.abc import Callable
from typing import Any

from aiosocketio import Server, Socket, client_socket


def build_server(log: list[str]) -> Server:
    # Node: new Server({ connectionStateRecovery: { maxDisconnectionDuration: 2 * 60 * 1000 } })
    io = Server(connection_state_recovery={"max_disconnection_duration": 120})
    orders: dict[str, int] = {}

    @io.on("connection")
    def on_connection(socket: Socket) -> None:
        log.append(
            f"connect token={socket.handshake.auth.get('token')} recovered={socket.recovered}"
        )
        socket.join("news")

        @socket.on("order")
        def order(item: str, callback: Callable[..., None] | None = None) -> None:
            orders[item] = orders.get(item, 0) + 1
            if orders[item] == 1:
                log.append(f"order {item}: first delivery, not acknowledged")
                return  # as if the acknowledgement were lost: the client sends it again
            log.append(f"order {item}: delivery {orders[item]}, acknowledged")
            if callback is not None:
                callback("confirmed")

    return io


async def main(port: int) -> None:
    log: list[str] = []
    io = build_server(log)
    await io.listen(port, "127.0.0.1")
    url = f"http://127.0.0.1:{io.port}"

    tokens = itertools.count(1)

    async def auth() -> dict[str, Any]:  # called before every connection attempt
        return {"token": f"t{next(tokens)}"}

    socket = client_socket(
        url,
        auth=auth,
        transports=["websocket"],
        ack_timeout=1,  # Node: ackTimeout: 1000
        retries=3,
        reconnection_delay=0.05,
        reconnection_delay_max=0.1,
    )
    events: asyncio.Queue[str] = asyncio.Queue()
    socket.io.on("reconnect_attempt", lambda n: events.put_nowait(f"reconnect_attempt {n}"))
    socket.io.on("reconnect", lambda n: events.put_nowait(f"reconnect after {n} attempt(s)"))
    socket.on("disconnect", lambda reason: events.put_nowait(f"disconnect: {reason}"))
    # with recovery on, each event carries its offset as an extra last argument; as a
    # JavaScript listener does, a handler that takes one argument does not see it
    socket.on("news", lambda text: events.put_nowait(f"news: {text}"))
    await socket.connect()  # the handlers are in place before the first byte arrives

    # at-least-once: the first delivery is not acknowledged, the retry is
    answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    socket.emit("order", "book", callback=lambda err, value: answer.set_result((err, value)))
    print("order answer:", await asyncio.wait_for(answer, 5))

    # the client keeps the offset of the last event it received...
    io.to("news").emit("news", "before the drop")
    print(await asyncio.wait_for(events.get(), 5))

    # ...the connection drops; the server keeps the session and what it emits meanwhile
    first_id = socket.id
    [server_side] = io.sockets.sockets.values()
    server_side.conn.close()
    print(await asyncio.wait_for(events.get(), 5))
    io.to("news").emit("news", "sent while you were away")
    for _ in range(2):
        print(await asyncio.wait_for(events.get(), 5))
    print(await asyncio.wait_for(events.get(), 5))  # the missed event, replayed
    print("recovered:", socket.recovered, "same id:", socket.id == first_id)

    socket.disconnect()
    print(await asyncio.wait_for(events.get(), 5))
    await io.close()
    for line in log:
        print("server:", line)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    asyncio.run(main(parser.parse_args().port))
