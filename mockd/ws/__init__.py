"""mockd's WebSocket layer over gevent-websocket (see protocol.py and handler.py for why)."""
