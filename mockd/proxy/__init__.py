"""Proxy, record and replay: a mock that forwards to a real server (``websocket.proxy``), the
recordings of what flowed, their HAR form, turning them into mocks, and replaying them.

``recording.py`` is the document model every other part shares; ``har.py`` and ``files.py``
read and write it; ``upstream.py`` and ``relay.py`` are the live proxy; ``convert.py`` makes a
mock of a recording and ``replay.py`` plays one back."""
