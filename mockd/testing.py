"""A pytest plugin for testing against mockd: ``pytest_plugins = ["mockd.testing"]``.

``make_mockd_server(config)`` starts an in-process server on 127.0.0.1 port 0 from a dict, a
YAML string or a file path, and stops it at teardown. The test process must be patched by
gevent (``monkey.patch_all()`` first thing in ``conftest.py``).
"""
import os

import pytest
import yaml


class RunningServer:
    """A started :class:`~mockd.server.MockServer` with conveniences for tests."""

    def __init__(self, server):
        self.server = server

    @property
    def port(self):
        return self.server.ws_port

    def url(self, path="/ws"):
        return f"ws://127.0.0.1:{self.port}{path}"

    def stop(self):
        self.server.stop(timeout=2.0)


def start_server(config, plugins=(), load_entrypoints=False, **server_options):
    """Build and start a server; ``config`` is a dict, YAML text or a path."""
    from .config import build_config, load_config, parse_config_text
    from .plugins import Registry, get_plugin_manager
    from .server import MockServer

    pm = get_plugin_manager(load_entrypoints=load_entrypoints, plugins=plugins,
                            plugins_dir=server_options.pop("plugins_dir", None))
    registry = Registry.from_plugin_manager(pm)
    if isinstance(config, dict):
        loaded = build_config(config, registry, "<test>")
    elif isinstance(config, os.PathLike) or (isinstance(config, str) and "\n" not in config
                                            and os.path.exists(config)):
        loaded = load_config(config, registry)
    else:
        loaded = parse_config_text(config, registry, "<test>.yaml")
    server_options.setdefault("host", "127.0.0.1")
    server_options.setdefault("port", 0)
    server_options.setdefault("admin_port", 0)
    server = MockServer(loaded, pm, registry, **server_options)
    server.start()
    return RunningServer(server)


def websocket_mock(path="/ws", **spec):
    """A one-mock config dict: ``websocket_mock("/ws", echoMode=True)``."""
    return {"version": "1.0", "mocks": [{"id": "test-mock", "type": "websocket",
                                         "websocket": dict(spec, path=path)}]}


@pytest.fixture
def make_mockd_server():
    started = []

    def make(config, plugins=(), **server_options):
        running = start_server(config, plugins=plugins, **server_options)
        started.append(running)
        return running

    yield make
    for running in started:
        running.stop()


__all__ = ["RunningServer", "make_mockd_server", "start_server", "websocket_mock", "yaml"]
