"""The :class:`Backend` interface (``mockd/backend/__init__.py`` says what goes through it)."""

from ..errors import MockdError

__all__ = ["Backend", "JournalUnavailable"]


class JournalUnavailable(MockdError):
    """The cluster's journal could not be read (Redis is away): answer from this node's."""


class Backend:
    """What a backend does for its :class:`~mockd.server.MockServer`."""

    #: This node's id (``--node-id``, or one made up at start).
    node_id = None
    #: The journal every node shares (:class:`~mockd.backend.journal.SharedJournal`), or None
    #: when this node's own (``server.journal``) is the whole of it.
    journal = None

    def start(self, server):
        """Join (after the listeners are bound): seed or take the shared mocks, start beating."""

    def stop(self):
        """Leave: stop beating, drop the node's entry."""

    #: False while the shared state cannot be reached (``--cluster``: Redis is away).
    available = True

    def check(self):
        """Whether a change of the shared state can be made now."""
        return self.available

    def share_recordings(self, store):
        """The recordings ``server.recordings`` serves: ``store`` (this node's), or the cluster's
        over it."""
        return store

    def faults_changed(self, mock_id):
        """The admin API added to or cleared mock ``mock_id``'s faults (on every live node):
        keep them for the nodes that join later."""

    def mocks_changed(self):
        """The local mock table changed (an admin write, a reload): share it."""

    def ask(self, op, **args):
        """Run the node command ``op`` (:mod:`mockd.backend.commands`) on every node: their
        answers, this node's first."""
        raise NotImplementedError

    def nodes(self):
        """The live nodes: ``[{"id", "address", "startedAt", "lastHeartbeat", "connections"}]``."""
        raise NotImplementedError
