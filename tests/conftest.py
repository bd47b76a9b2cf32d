from gevent import monkey

monkey.patch_all()

import logging  # noqa: E402

import pytest  # noqa: E402
import websocket  # noqa: E402

from _rawws import Client  # noqa: E402

pytest_plugins = ["mockd.testing"]


@pytest.fixture
def write_config(tmp_path):
    """Write a config text into a file and return its path."""
    def write(text, name="mockd.yaml"):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path
    return write


@pytest.fixture
def registry():
    """A :class:`~mockd.plugins.Registry` of mockd's built-in types alone (no installed plugins),
    for loading configs without a server."""
    from mockd.plugins import Registry, get_plugin_manager
    return Registry.from_plugin_manager(get_plugin_manager(load_entrypoints=False))


@pytest.fixture
def no_unhandled_errors(caplog, capfd):
    """Fail the test if a ``mockd`` logger recorded an ERROR (in its setup, call or teardown) or
    stderr shows an unhandled greenlet exception (a traceback, or gevent's "... failed with ...").
    Yields ``caplog``, which listens to ``mockd`` at WARNING.

    A test file opts in with ``pytestmark = pytest.mark.usefixtures("no_unhandled_errors")``:
    set up before the server fixtures, it is torn down after them, so that the servers'
    shutdown is covered too."""
    mockd_logger = logging.getLogger("mockd")
    propagate, mockd_logger.propagate = mockd_logger.propagate, True  # `mockd serve` turns it off
    caplog.set_level(logging.WARNING, logger="mockd")  # caplog listens at the root
    yield caplog
    mockd_logger.propagate = propagate
    errors = [f"{r.name}: {r.getMessage()}" for when in ("setup", "call", "teardown") for r in caplog.get_records(when)
              if r.name.startswith("mockd") and r.levelno >= logging.ERROR]
    assert not errors, errors
    err = capfd.readouterr().err
    assert "Traceback" not in err and "failed with" not in err, err


@pytest.fixture
def ws_client(make_mockd_server):
    """``ws_client(url, timeout=5, **options)``: a websocket-client connection, closed at
    teardown, before the servers stop (this fixture depends on ``make_mockd_server``)."""
    opened = []

    def connect(url, timeout=5, **options):
        ws = websocket.create_connection(url, timeout=timeout, **options)
        opened.append(ws)
        return ws

    yield connect
    for ws in opened:
        try:
            ws.close(timeout=1)
        except Exception:
            pass


@pytest.fixture
def raw(make_mockd_server):
    """``raw(port, path="/ws", timeout=5.0)``: a :class:`_rawws.Client` connected to 127.0.0.1
    but not yet past its handshake (``client.handshake()``, ``client.request(...)``); its
    socket is closed at teardown, before the servers stop."""
    opened = []

    def connect(port, path="/ws", timeout=5.0):
        client = Client(port, path, timeout=timeout, handshake=False)
        opened.append(client)
        return client

    yield connect
    for client in opened:
        client.sock.close()


@pytest.fixture
def served_demo(tmp_path):
    """The real CLI, ``mockd serve`` without -c: the built-in demo, in a process of its own
    (``Served`` of tests/test_readme_examples.py), stopped at teardown."""
    from test_readme_examples import Served
    server = Served(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def redis_server(tmp_path):
    """A real redis-server on a free port (tests/_redis.py), stopped at teardown."""
    from _redis import RedisServer
    server = RedisServer(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def nodes(tmp_path, redis_server):
    """``nodes("a", *extra, config=...)`` starts ``mockd serve --cluster`` (node ``a``) on the
    test's Redis; every node still running is stopped at teardown."""
    from _cluster import CONFIG, config_file
    from test_readme_examples import Served
    started = []

    def start(node_id, *extra, config=CONFIG):
        node = Served(tmp_path, "-c", config_file(tmp_path, config, f"{node_id}.json"), "--cluster", redis_server.url,
                      "--node-id", node_id, *extra)
        started.append(node)
        return node
    yield start
    for node in started:
        if node.proc is not None and node.proc.poll() is None:
            node.stop()


# ---------------------------------------------------------------- the dashboard's browser tests


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium through Playwright (tests/_browser.py: skipped without it, but in CI)."""
    from _browser import launch_browser
    yield from launch_browser()


@pytest.fixture
def demo(make_mockd_server):
    """The built-in demo's mocks, in-process on port 0 (tests/test_readme_examples.py has a
    ``demo`` of its own: the real ``mockd serve``)."""
    from _browser import DEMO_CONFIG
    return make_mockd_server(DEMO_CONFIG)


@pytest.fixture
def tabs(browser, make_mockd_server):
    """``open_tab(url, viewport=DESKTOP)``: a fresh context's page at ``url``; closed at teardown,
    before the servers stop (a tab holds an event stream open)."""
    from _browser import DESKTOP, Tab
    opened = []

    def open_tab(url, viewport=DESKTOP):
        tab = Tab(browser, viewport)
        opened.append(tab)
        tab.page.goto(url)
        return tab
    yield open_tab
    for tab in opened:
        tab.close()
