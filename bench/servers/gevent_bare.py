"""The floor to beat: a bare gevent-websocket server, nothing of mockd in it.

    python bench/servers/gevent_bare.py [--port 0] [--feed-period 0.02]

``/feed`` pushes a small JSON tick every ``--feed-period`` seconds to each client (a greenlet
per connection: send, sleep, repeat, as a mockd looping scenario does); every other path
echoes each message back with its frame type. Prints ``LISTENING <port>`` once bound.
"""
import argparse
import json
import resource
import signal
import sys
import time

import gevent
from gevent.pywsgi import WSGIServer
from geventwebsocket.handler import WebSocketHandler


def echo(ws):
    receive, send = ws.receive, ws.send
    while True:
        message = receive()
        if message is None:
            return
        send(message, binary=not isinstance(message, str))


def feed(ws, period):
    def pusher():
        seq = 0
        while not ws.closed:
            seq += 1
            ws.send(json.dumps({"type": "tick", "seq": seq, "ts": time.time()}))
            gevent.sleep(period)

    sender = gevent.spawn(pusher)
    try:
        while ws.receive() is not None:  # returns None once the client goes away
            pass
    finally:
        sender.kill(block=False)


def make_app(period):
    def app(environ, start_response):
        ws = environ.get("wsgi.websocket")
        if ws is None:
            start_response("400 Bad Request", [("Content-Type", "text/plain")])
            return [b"websocket only\n"]
        try:
            if environ.get("PATH_INFO") == "/feed":
                feed(ws, period)
            else:
                echo(ws)
        except Exception:  # the library raises WebSocketError for a vanished client
            pass
        return []
    return app


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--feed-period", type=float, default=0.02)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    server = WSGIServer(("127.0.0.1", args.port), make_app(args.feed_period),
                        handler_class=WebSocketHandler, log=None, backlog=4096)
    server.start()
    gevent.signal_handler(signal.SIGTERM, lambda: sys.exit(0))
    print(f"LISTENING {server.server_port}", flush=True)
    try:
        gevent.wait()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
