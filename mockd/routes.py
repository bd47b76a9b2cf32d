"""The mock table: every mock by id, and the served routes (path -> :class:`ServedRoute`) of the
enabled ones. The admin API, a config reload and the listener all go through it.

Everything here is touched from greenlets of one thread, so plain dicts suffice; nothing
here blocks (closing a changed mock's clients is spawned).
"""
import logging
from collections.abc import Mapping

from .closecodes import CLOSE_SERVICE_RESTART
from .errors import ConfigError, MockConflict, UnknownMock
from .faults.live import MockFaults
from .greenlets import spawn
from .rules import RuleIndex

log = logging.getLogger("mockd.server")


class ServedRoute:
    """An enabled mock as the listener serves it: its compiled endpoint, its rule index, and
    its live connections."""

    __slots__ = ("mock", "endpoint", "rules", "connections", "pending", "faults")

    def __init__(self, mock, faults):
        self.mock = mock
        self.faults = faults      # the mock's MockFaults (its config's and the admin API's)
        self.endpoint = mock.endpoint
        self.rules = RuleIndex(mock.endpoint.rules)
        self.connections = set()  # accepted connections (past the 101)
        self.pending = 0          # handshakes admitted but not yet upgraded (maxConnections slots)

    @property
    def id(self):
        return self.mock.id

    def occupied(self):
        return len(self.connections) + self.pending


def _same_spec(old, new, ignore_id=False):
    """Whether two mocks have the same definition (as written; server timestamps ignored)."""
    ignored = {"createdAt", "updatedAt"} | ({"id"} if ignore_id else set())
    return ({k: v for k, v in old.spec.items() if k not in ignored}
            == {k: v for k, v in new.spec.items() if k not in ignored})


class MockTable(Mapping):
    """Mock id -> :class:`~mockd.config.Mock`, in definition order, and ``routes``: path ->
    :class:`ServedRoute` for the enabled mocks. A changed or removed mock's live clients get
    1012 ``mock updated``."""

    def __init__(self, mocks=()):
        self._mocks = {}
        self.routes = {}
        self._faults = {}  # mock id -> MockFaults; kept while the mock's config names the same faults
        #: Called after every change of the table (the cluster backend shares it), or None.
        self.on_change = None
        for mock in mocks:
            self._install(mock)

    # Mapping: read-only access by id
    def __getitem__(self, mock_id):
        return self._mocks[mock_id]

    def __iter__(self):
        return iter(self._mocks)

    def __len__(self):
        return len(self._mocks)

    def _install(self, mock):
        if mock.enabled:
            other = self.routes.get(mock.endpoint.path)
            if other is not None and other.id != mock.id:
                raise ConfigError(f"path {mock.endpoint.path!r} is already served by mock {other.id!r}",
                                  where="websocket.path")
        self._mocks[mock.id] = mock
        faults = self._faults.get(mock.id)
        if faults is None or faults.config_specs != [fault.spec for fault in mock.endpoint.faults]:
            faults = self._faults[mock.id] = MockFaults(mock.endpoint.faults)
        if mock.enabled:
            self.routes[mock.endpoint.path] = ServedRoute(mock, faults)

    def _uninstall(self, mock_id):
        """Stop serving a mock; its live clients get 1012 ``mock updated``. Returns the close count."""
        mock = self._mocks.get(mock_id)
        if mock is None:
            return 0
        route = self.routes.get(mock.endpoint.path)
        if route is None or route.id != mock_id:
            return 0
        del self.routes[mock.endpoint.path]
        live = list(route.connections)
        for connection in live:
            spawn(connection.close, CLOSE_SERVICE_RESTART, "mock updated")
        return len(live)

    def _check_path_free(self, mock, ignore_id=None):
        if not mock.enabled:
            return
        other = self.routes.get(mock.endpoint.path)
        if other is not None and other.id not in (mock.id, ignore_id):
            raise MockConflict("duplicate_path", f"path {mock.endpoint.path!r} is already served by mock {other.id!r}")

    def get_mock(self, mock_id):
        """The mock ``mock_id``; raises :class:`UnknownMock` (the API's 404)."""
        mock = self._mocks.get(mock_id)
        if mock is None:
            raise UnknownMock(f"mock {mock_id!r} not found")
        return mock

    def faults_of(self, mock_id):
        """The :class:`~mockd.faults.live.MockFaults` of mock ``mock_id`` (:class:`UnknownMock`)."""
        self.get_mock(mock_id)
        return self._faults[mock_id]

    def add(self, mock):
        """Serve a new mock at once. Raises :class:`MockConflict` for a taken id or path."""
        if mock.id in self._mocks:
            raise MockConflict("duplicate_id", f"a mock with id {mock.id!r} already exists")
        self._check_path_free(mock)
        self._install(mock)
        self._changed()
        return mock

    def replace(self, mock_id, mock):
        """Swap a mock's definition; its live clients are closed with 1012, new ones get the new one."""
        self.get_mock(mock_id)
        self._check_path_free(mock, ignore_id=mock_id)
        self._uninstall(mock_id)
        del self._mocks[mock_id]
        self._install(mock)
        self._changed()
        return mock

    def remove(self, mock_id):
        self.get_mock(mock_id)
        self._uninstall(mock_id)
        self._faults.pop(mock_id, None)
        removed = self._mocks.pop(mock_id)
        self._changed()
        return removed

    def clear(self, mock_type=None):
        removed = [m for m in self._mocks.values() if mock_type is None or m.type == mock_type]
        for mock in removed:
            self.remove(mock.id)
        return removed

    def reload(self, mocks, source=None):
        """Serve ``mocks`` (a newly loaded file's) instead of the current ones.

        Mocks whose definition is unchanged keep their live connections; changed and removed
        ones close theirs with 1012 ``mock updated``; the served set becomes the file's (mocks
        created through the admin API since are removed too). Nothing changes when the new
        set is inconsistent (two enabled mocks on one path): :class:`ConfigError` is raised.

        :return: ``{"added": [...], "changed": [...], "removed": [...], "unchanged": [...]}`` ids.
        """
        old = dict(self._mocks)
        claimed = {}
        for mock in mocks:
            if mock.enabled and claimed.setdefault(mock.endpoint.path, mock.id) != mock.id:
                raise ConfigError(f"path {mock.endpoint.path!r} is served by both mock "
                                  f"{claimed[mock.endpoint.path]!r} and {mock.id!r}", source=source)
        wanted = _keep_unnamed_twins(mocks, old)
        keep = {m.id for m in wanted if m.id in old and _same_spec(old[m.id], m)}
        wanted_ids = {m.id for m in wanted}
        report = {"added": [m.id for m in wanted if m.id not in old],
                  "changed": [m.id for m in wanted if m.id in old and m.id not in keep],
                  "removed": [i for i in old if i not in wanted_ids],
                  "unchanged": [m.id for m in wanted if m.id in keep]}
        for mock_id in report["removed"] + report["changed"]:
            closed = self._uninstall(mock_id)
            log.info("reload: mock %s %s; %d clients closed with 1012", mock_id,
                     "removed" if mock_id in report["removed"] else "changed", closed,
                     extra={"mock_id": mock_id})
        self._mocks = {}
        self.routes = {path: route for path, route in self.routes.items() if route.id in keep}
        for mock in wanted:
            if mock.id in keep:
                self._mocks[mock.id] = old[mock.id]
            else:
                self._install(mock)
        self._faults = {mock_id: faults for mock_id, faults in self._faults.items() if mock_id in self._mocks}
        self._changed()
        return report

    def _changed(self):
        if self.on_change is not None:
            self.on_change()


def _keep_unnamed_twins(mocks, old):
    """``mocks`` with each one written without an id replaced by its unchanged twin among the
    old mocks, if any: such a mock gets a new random id on every load, so reloading an
    untouched file would otherwise change (and disconnect) it."""
    fresh = {mock.id for mock in mocks if mock.id not in old}
    loaded_ids = {mock.id for mock in mocks}
    orphans = [m for m in old.values() if m.id not in loaded_ids]
    wanted = []
    for mock in mocks:
        if mock.id in fresh:
            twin = next((o for o in orphans if _same_spec(o, mock, ignore_id=True)), None)
            if twin is not None:
                orphans.remove(twin)
                mock = twin
        wanted.append(mock)
    return wanted
