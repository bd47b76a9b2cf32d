"""Adding many mocks at once (``POST /mocks/bulk``, ``POST /config``): all of them or none.

Everything is validated and every id and path conflict is found before the first change, so a
bad batch leaves the server exactly as it was. Nothing here yields to other greenlets, so no
request can slip in between the check and the change.
"""
from ..config import build_mock
from ..errors import MockConflict


def build(server, spec, where, id_prefix):
    """Validate one mock from the API exactly as a config file's (``type`` inferred when
    absent), with the server's plugin settings (and its config file, against which they
    resolve relative paths), never settings of the request's own."""
    return build_mock(spec, server.registry, where, id_prefix=id_prefix, plugins=server.config.plugins,
                      source=server.config.source, allowed_files=named_files(server.config))


def named_files(config):
    """The files the config file's mocks name (``replay.recording``, ``proxy.tls.ca``): a mock
    from the API may name those (a toggle or patch of such a mock rebuilds it), no other."""
    named = set()
    for mock in config.mocks:
        websocket = mock.spec.get("websocket") if isinstance(mock.spec.get("websocket"), dict) else {}
        replay, proxy = websocket.get("replay"), websocket.get("proxy")
        if isinstance(replay, dict) and isinstance(replay.get("recording"), str):
            named.add(replay["recording"])
        tls = proxy.get("tls") if isinstance(proxy, dict) else None
        if isinstance(tls, dict) and isinstance(tls.get("ca"), str):
            named.add(tls["ca"])
    return frozenset(named)


def build_all(server, specs, where, id_prefix):
    """:func:`build` every spec; ``where(i)`` locates errors. Raises the first ``ConfigError``."""
    return [build(server, spec, where(i), id_prefix) for i, spec in enumerate(specs)]


def check(server, mocks, upsert=False, clear=False):
    """Raise :class:`MockConflict` unless ``mocks`` can be applied.

    :param upsert: a mock whose id exists replaces it (import) instead of conflicting (bulk).
    :param clear: every existing mock goes first (import with ``replace``).
    """
    batch = {}
    for mock in mocks:
        if mock.id in batch:
            raise MockConflict("duplicate_id", f"mock id {mock.id!r} appears twice in the request")
        if not (upsert or clear) and mock.id in server.mocks:
            raise MockConflict("duplicate_id", f"a mock with id {mock.id!r} already exists")
        batch[mock.id] = mock
    kept = [] if clear else [m for m in server.mocks.values() if m.id not in batch]
    served = {}
    for mock in kept + list(mocks):
        if not mock.enabled:
            continue
        other = served.setdefault(mock.endpoint.path, mock.id)
        if other != mock.id:
            raise MockConflict("duplicate_path",
                               f"path {mock.endpoint.path!r} would be served by both {other!r} and {mock.id!r}")


def apply(server, mocks, clear=False):
    """Install a checked batch. Replaced and cleared mocks close their clients with 1012."""
    if clear:
        server.mocks.clear()
    # Remove every replaced mock before adding any: two mocks swapping paths must not collide.
    for mock in mocks:
        if mock.id in server.mocks:
            server.mocks.remove(mock.id)
    for mock in mocks:
        server.mocks.add(mock)
