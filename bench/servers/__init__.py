"""The servers ``python -m bench`` measures: mockd (through ``mockd serve``) and the baselines.

Each baseline is a script of its own, started as a subprocess on a free 127.0.0.1 port; it
prints ``LISTENING <port>`` once bound:

- ``gevent_bare.py``: bare gevent-websocket (the floor every ratio is taken against);
- ``websockets_echo.py``: the ``websockets`` library on asyncio (uvloop when installed);
- ``node_ws_echo.js``: Node's ``ws`` (``npm --prefix bench/node install`` first).
"""
