"""mockd's WebSocket transport on gevent's pywsgi: the handshake (handler.py), the connection's
socket (protocol.py, with inbound.py and outbound.py), framing (frames.py) and the pre-upgrade
checks (app.py, origin.py). It owns its classes; what it borrows from gevent is listed in
guard.py and pinned by tests/test_upstream_pins.py."""
