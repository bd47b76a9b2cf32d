"""The one seam for what several mockd processes share: :class:`Backend`.

A single process uses :class:`~mockd.backend.local.LocalBackend` (nothing is shared, nothing
changes); ``mockd serve --cluster redis://HOST:PORT/DB`` uses
:class:`~mockd.backend.redis.RedisBackend`, through which every node serves the same mocks and
lists the others. The admin API and the mock table talk to the backend, never to another node.

What goes through it: the mock table (a change on any node is applied on every node: its
clients get 1012 there too), membership (``GET /cluster``), the node commands of the admin API
(``commands.py``: connections, stats, sends, closes, broadcasts, faults, handshakes), the
journal (``journal.py``: one Redis stream), recordings (``recordings.py``), the faults the
admin API gave (for nodes that join later) and ``sequence()`` counters.
"""

from .base import Backend

__all__ = ["Backend", "make_backend"]


def make_backend(options):
    """The backend ``options`` ask for (``options.cluster``: a ``redis://`` URL, or None)."""
    if not options.cluster:
        from .local import LocalBackend
        return LocalBackend(options.node_id)
    from .redis import RedisBackend
    return RedisBackend(options.cluster, options.node_id, reset=options.cluster_reset)
