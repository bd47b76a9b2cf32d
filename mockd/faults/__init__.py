"""Faults: what a misbehaving network or server does to a client, on demand (``websocket.faults``,
the faults admin API). ``types`` is the seam (pure), ``builtin`` the built-in types, ``context``
what a fault acts through, ``live`` the faults in force on each mock and connection."""
