"""A real upstream for the proxy tests, written with a library that is not mockd's: the
``websockets`` asyncio server, run as a subprocess (``python tests/upstream_ws.py [--tls CERT KEY]``).

It prints ``port N`` once listening, then one line per event the tests read: ``headers {...}``
of each handshake, ``got text|binary <repr>``, ``closed CODE REASON`` as the proxy closed it.
Paths: ``/echo`` echoes every message; ``/push`` sends ``hello`` first; ``/refuse`` answers the
handshake 403, ``/redirect`` 302 to ``/echo``; ``close CODE REASON`` closes with that code, ``vanish`` drops the TCP connection
without a close frame, ``flood N SIZE`` sends N binary messages of SIZE bytes at once.
"""
import argparse
import asyncio
import json
import ssl
import sys

from websockets.asyncio.server import serve
from websockets.http11 import Response
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed

SUBPROTOCOLS = ["chat.v2", "chat.v1"]


def say(*parts):
    print(*parts, flush=True)


def select_subprotocol(connection, offered):
    """The first of ours the client offered, or none (websockets refuses a client that offers
    none by default; the proxy tests want both)."""
    return next((name for name in SUBPROTOCOLS if name in offered), None)


def process_request(connection, request):
    say("headers", json.dumps({name.lower(): value for name, value in request.headers.raw_items()}))
    if request.path.startswith("/refuse"):
        return Response(403, "Forbidden", Headers([("Content-Type", "text/plain")]), b"no entry\n")
    if request.path.startswith("/redirect"):
        return Response(302, "Found", Headers([("Location", "/echo")]), b"")
    return None


async def handler(websocket):
    path = websocket.request.path
    if path.startswith("/push"):
        await websocket.send("hello")
    closing = None
    try:
        async for message in websocket:
            kind = "binary" if isinstance(message, bytes) else "text"
            say("got", kind, repr(message))
            if kind == "text" and message.startswith("close "):
                _, code, reason = message.split(" ", 2)
                closing = int(code), reason
                break
            if message == "vanish":
                websocket.transport.abort()
                break
            if kind == "text" and message.startswith("flood "):
                _, count, size = message.split()
                for number in range(int(count)):
                    await websocket.send(bytes([number % 256]) * int(size))
                continue
            await websocket.send(message)
        if closing:
            await websocket.close(*closing)
        received = websocket.protocol.close_rcvd  # the sans-I/O protocol object keeps it
    except ConnectionClosed as exc:  # the client's close ended the loop with an exception
        received = exc.rcvd
    say("closed", received.code if received else None, received.reason if received else "")


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    args = parser.parse_args()
    context = None
    if args.tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*args.tls)
    async with serve(handler, "127.0.0.1", 0, select_subprotocol=select_subprotocol, process_request=process_request,
                     ssl=context, max_size=None) as server:
        say("port", server.sockets[0].getsockname()[1])
        await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
