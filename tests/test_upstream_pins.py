"""What mockd's transport borrows from gevent beyond its documented API, pinned.

mockd/ws/ owns its classes: ``MockdWebSocket`` is a plain class, and the handlers subclass
pywsgi's ``WSGIHandler`` only (pywsgi takes a ``handler_class``). What they still use of
gevent's internals is listed here, each with the mockd code that needs it, so that an upgrade
that removes or renames one fails here, by name. Without these tests some would fail far away
(a missing import), and some not at all: an override of a renamed private method simply never
runs again, and a socket of another type quietly loses the fast path.

Methods mockd *overrides* must keep their exact parameters and still be called by pywsgi;
methods mockd only *calls* must accept the arguments it passes. Names are looked up when a
test runs, not at import, so that one missing name fails its own test and not the module.
gevent-websocket: nothing of it is borrowed any more (``test_no_other_upstream_base_class``).
"""
import _socket  # the C socket type, which monkey-patching leaves alone
import email.errors
import importlib
import inspect
import io
import types

import gevent
import gevent.event
import gevent.socket
import pytest
from gevent import pywsgi
from gevent.pywsgi import WSGIHandler, WSGIServer


def _pywsgi(dotted):
    """``"Input._discard"`` -> gevent.pywsgi.Input._discard, or None when it is gone."""
    value = pywsgi
    for part in dotted.split("."):
        value = getattr(value, part, None)
    return value


def _mockd(spec):
    """``"guard:GuardedWSGIHandler"`` -> mockd.ws.guard.GuardedWSGIHandler."""
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(f"mockd.ws.{module}"), name)


def _pywsgi_calls(name):
    """Whether any code in gevent.pywsgi names ``name`` (an attribute it reads or calls)."""
    def names(code):
        yield from code.co_names
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                yield from names(const)
    for cls in vars(pywsgi).values():
        if isinstance(cls, type) and cls.__module__ == pywsgi.__name__:
            for member in vars(cls).values():
                if isinstance(member, types.FunctionType) and name in names(member.__code__):
                    return True
    return False


def _handler():
    return WSGIHandler(object(), ("127.0.0.1", 1), object(), rfile=io.BytesIO())


# ---------------------------------------------------------------------------- pywsgi names

def test_input_is_a_class_mockd_can_subclass():
    assert isinstance(_pywsgi("Input"), type), (
        "gevent.pywsgi.Input is gone: mockd/ws/guard.py _GuardedInput subclasses it to bound "
        "each read of a request body by the request deadline")
    body = pywsgi.Input(io.BytesIO(b"abc"), 3, socket=None, chunked_input=False)
    for attribute in ("rfile", "content_length", "socket", "chunked_input"):
        assert hasattr(body, attribute), (
            f"gevent.pywsgi.Input has no {attribute!r}: mockd/ws/guard.py RequestDeadline."
            "get_environ() builds its _GuardedInput from pywsgi's Input with it")


def test_invalid_client_input_is_an_oserror():
    exc = _pywsgi("_InvalidClientInput")
    assert isinstance(exc, type) and issubclass(exc, OSError), (
        "gevent.pywsgi._InvalidClientInput is gone or no OSError: mockd/ws/guard.py "
        "RequestDeadline._handle_client_error() tells a malformed body (400) from a client that "
        "left (any other OSError) by it")


# Methods mockd overrides: (pywsgi method, mockd's class, whether pywsgi itself calls it, the
# mockd code that depends on it).
OVERRIDDEN = [
    ("WSGIHandler.handle", "guard:GuardedWSGIHandler", True, "guard.py GuardedWSGIHandler.handle (TCP_NOTSENT_LOWAT)"),
    ("WSGIHandler.handle_one_request", "handler:MockdWebSocketHandler", True,
     "guard.py RequestDeadline.handle_one_request (the request deadline; writes pywsgi's "
     "(status, body) error answers itself)"),
    ("WSGIHandler.read_requestline", "handler:MockdWebSocketHandler", True,
     "guard.py RequestDeadline.read_requestline (starts the deadline)"),
    ("WSGIHandler.read_request", "handler:MockdWebSocketHandler", True,
     "guard.py RequestDeadline.read_request (400 for malformed header lines)"),
    ("WSGIHandler.get_environ", "handler:MockdWebSocketHandler", True,
     "guard.py RequestDeadline.get_environ (the guarded body stream)"),
    ("WSGIHandler.handle_error", "handler:MockdWebSocketHandler", True,
     "guard.py RequestDeadline.handle_error (408 when the deadline passes)"),
    ("WSGIHandler._handle_client_error", "handler:MockdWebSocketHandler", True,
     "guard.py RequestDeadline._handle_client_error (one WARNING, no traceback, for a malformed request)"),
    ("WSGIHandler._sendall", "handler:MockdWebSocketHandler", True,
     "guard.py RequestDeadline._sendall (the write deadline)"),
    ("WSGIHandler.run_application", "handler:MockdWebSocketHandler", True,
     "handler.py MockdWebSocketHandler.run_application (the WebSocket upgrade)"),
    ("Input._discard", "guard:_GuardedInput", True,
     "guard.py _GuardedInput._discard (nothing skipped after a 101; the deadline otherwise)"),
    ("Input.read", "guard:_GuardedInput", True, "guard.py _GuardedInput.read (the deadline)"),
    # Called by the application (Flask), not by pywsgi.
    ("Input.readline", "guard:_GuardedInput", False, "guard.py _GuardedInput.readline (the deadline)"),
]


@pytest.mark.parametrize("where, ours, called, dependent", OVERRIDDEN, ids=[row[0] for row in OVERRIDDEN])
def test_overridden_pywsgi_method(where, ours, called, dependent):
    method = _pywsgi(where)
    assert isinstance(method, types.FunctionType), f"gevent.pywsgi.{where} is gone; mockd/ws/{dependent} overrides it"
    mine = getattr(_mockd(ours), where.rpartition(".")[2])
    assert mine is not method, f"mockd no longer overrides gevent.pywsgi.{where}: take it off this list"
    # The override takes what pywsgi passes: a parameter added or renamed there breaks it.
    assert list(inspect.signature(method).parameters) == list(inspect.signature(mine).parameters), (
        f"gevent.pywsgi.{where}{inspect.signature(method)} changed; mockd/ws/{dependent} "
        f"overrides it as {inspect.signature(mine)}")
    if called:
        assert _pywsgi_calls(where.rpartition(".")[2]), (
            f"pywsgi no longer calls {where}(), so mockd/ws/{dependent} never runs")


# Methods mockd only calls: (pywsgi method, the arguments mockd passes, the mockd code).
CALLED = [
    ("Input.__init__", ((io.BytesIO(), 0), {"socket": None, "chunked_input": False}),
     "guard.py RequestDeadline.get_environ (builds _GuardedInput)"),
    ("WSGIHandler.start_response", (("101 Switching Protocols", []), {}),
     "handler.py (the 101's status for the access log, the rejections) and guard.py (the 408)"),
    ("WSGIHandler.write", ((b"",), {}), "handler.py MockdWebSocketHandler._reject and guard.py (the 408)"),
    ("WSGIHandler.log_request", ((), {}), "guard.py RequestDeadline.handle_one_request (its error answers)"),
]


@pytest.mark.parametrize("where, call, dependent", CALLED, ids=[row[0] for row in CALLED])
def test_called_pywsgi_method(where, call, dependent):
    method = _pywsgi(where)
    assert isinstance(method, types.FunctionType), f"gevent.pywsgi.{where} is gone; mockd/ws/{dependent} calls it"
    args, kwargs = call
    try:
        inspect.signature(method).bind(object(), *args, **kwargs)
    except TypeError as exc:
        pytest.fail(f"gevent.pywsgi.{where}{inspect.signature(method)} no longer takes mockd's call "
                    f"({exc}); see mockd/ws/{dependent}")


# Per-request state of WSGIHandler, "not public documented" in pywsgi; read or set by
# guard.py and handler.py (the 101's bookkeeping, the error answers, the deadline).
HANDLER_STATE = ("status", "code", "headers_sent", "response_length", "close_connection",
                 "connection_upgraded", "time_finish", "wsgi_input", "headers", "request_version",
                 "environ", "application")


def test_wsgi_handler_state():
    missing = [name for name in HANDLER_STATE if not hasattr(WSGIHandler, name)]
    assert not missing, f"gevent.pywsgi.WSGIHandler lost {missing}, which mockd/ws/guard.py and handler.py use"
    handler = _handler()
    for name in ("socket", "client_address", "server", "rfile"):
        assert hasattr(handler, name), f"WSGIHandler() no longer sets {name!r}, which mockd/ws/ handlers use"


def test_wsgi_handler_headers_report_malformed_lines_as_defects():
    # guard.py RequestDeadline.read_request answers 400 for these defects; pywsgi itself serves
    # such a request. If its header parser stopped recording them, that check would vanish.
    headers = _handler().MessageClass(io.BytesIO(b"Host: example\r\nno colon here\r\nX-A: 1\r\n\r\n"), 0)
    assert any(isinstance(d, email.errors.MissingHeaderBodySeparatorDefect) for d in headers.defects), (
        "pywsgi's headers no longer list a line without a colon as a defect: "
        "mockd/ws/guard.py RequestDeadline.read_request relies on it for its 400")


# ---------------------------------------------------------------------------- gevent's socket

def test_gevent_socket_internals_for_the_fast_paths():
    # mockd/ws/inbound.py _recv_waiting: sock._wait(sock._read_event), then one
    # sock._sock.recv_into(); mockd/ws/outbound.py OutboundQueue: sock._sock.send / sendmsg
    # without waiting (BlockingIOError when the kernel takes nothing).
    a, b = gevent.socket.socketpair()
    try:
        assert type(a) is gevent.socket.socket, "gevent.socket.socketpair() no longer gives gevent.socket.socket"
        raw = getattr(a, "_sock", None)
        assert isinstance(raw, _socket.socket) and raw.gettimeout() == 0.0, (
            "gevent's socket no longer keeps a non-blocking stdlib socket in _sock: "
            "mockd/ws/inbound.py and outbound.py read and write through it")
        for name in ("recv_into", "send", "sendmsg"):
            assert callable(getattr(raw, name, None)), f"gevent's socket._sock has no {name}()"
        assert callable(getattr(a, "_wait", None)) and getattr(a, "_read_event", None) is not None, (
            "gevent's socket lost _wait() or _read_event: mockd/ws/inbound.py _recv_waiting waits with them")
        b.sendall(b"x")
        with gevent.Timeout(5):
            a._wait(a._read_event)
        view = memoryview(bytearray(8))
        assert raw.recv_into(view, 8) == 1
        with pytest.raises(BlockingIOError):
            raw.recv_into(view, 8)
        # Closing the socket from another greenlet must wake a waiting reader with an OSError
        # (inbound.py: "raises on shutdown"; protocol.py counts it as a lost connection).
        gevent.spawn_later(0.01, a.close)
        with gevent.Timeout(5), pytest.raises(OSError):
            a._wait(a._read_event)
    finally:
        a.close()
        b.close()


def test_pywsgi_hands_handlers_a_gevent_socket_and_a_buffered_rfile():
    # inbound.py and outbound.py take their fast paths only for exactly gevent.socket.socket
    # (type(sock) is ...): a subclass here would quietly cost every message. inbound.py reads
    # what came with the handshake through rfile.read1().
    seen = gevent.event.AsyncResult()

    class Recorder(WSGIHandler):
        def handle(self):
            seen.set((type(self.socket), self.rfile))

    server = WSGIServer(("127.0.0.1", 0), None, handler_class=Recorder, log=None)
    server.start()
    try:
        with gevent.socket.create_connection(("127.0.0.1", server.server_port)):
            sock_type, rfile = seen.get(timeout=5)
    finally:
        server.stop(timeout=1)
    assert sock_type is gevent.socket.socket, (
        f"pywsgi gives handlers a {sock_type!r}: mockd/ws/inbound.py socket_reader and "
        "outbound.py _init_outbound would fall back to the slow path")
    assert callable(getattr(rfile, "read1", None)), (
        "pywsgi's rfile has no read1(): mockd/ws/inbound.py _recv_first takes the bytes sent "
        "with the handshake through it")


# ---------------------------------------------------------------------------- nothing else

UPSTREAM_BASES = [
    ("protocol:MockdWebSocket", []),
    ("handler:MockdWebSocketHandler", ["WSGIHandler"]),
    ("guard:GuardedWSGIHandler", ["WSGIHandler"]),
    ("guard:_GuardedInput", ["Input"]),
]


@pytest.mark.parametrize("ours, upstream", UPSTREAM_BASES, ids=[row[0] for row in UPSTREAM_BASES])
def test_no_other_upstream_base_class(ours, upstream):
    # A base class from another package must be pinned in this module: what of it mockd uses,
    # and which code. gevent-websocket's WebSocket and WebSocketHandler were bases once, and
    # nominal ones: mockd replaced or bypassed everything they did.
    cls = _mockd(ours)
    foreign = [base for base in cls.__mro__ if base is not object and not base.__module__.startswith("mockd.")]
    assert foreign == [_pywsgi(name) for name in upstream], (
        f"{cls.__name__} has upstream base classes {foreign}: pin here what of them mockd uses")
