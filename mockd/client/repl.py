"""``mockd websocket connect``: the interactive session (README.rst, "Command line").

The socket is read in a plain thread while the main thread feeds it lines from standard
input, read by a second daemon thread so that the main thread stays free to notice a server
close or Ctrl+C. No gevent.
"""
import os
import queue
import sys
import threading
import time

from ..closecodes import CLOSE_NORMAL
from .common import ClientError
from .session import (CLOSE_WAIT, Closed, _server_closed, _sigterm_as_interrupt, _silence_stdout, compact,
                      describe_payload, json_record, open_connection, read_message)
from .terminal import printable

QUIET_AFTER_EOF = 0.5   # seconds without a message before a piped session ends
MAX_WAIT_AFTER_EOF = 10.0


class _Printer:
    """Serialises output: a sent line is printed before it is sent, under the same lock that
    the reader holds to print a reply, so a reply never prints before its request.

    On a terminal (stdin and stdout both ttys, no --json) the sent lines are not repeated:
    a ``> `` prompt stands where the user types, so the screen reads ``> ping`` / ``< pong``
    as in the documentation; a message arriving meanwhile is printed above a fresh prompt.
    """

    def __init__(self, as_json, raw=False):
        self.as_json = as_json
        self.raw = raw  # --raw: messages as received, control characters and all
        self.interactive = not as_json and sys.stdin.isatty() and sys.stdout.isatty()
        self.prompt_shown = False
        self.lock = threading.Lock()

    def _clear_prompt(self):
        if self.prompt_shown:
            sys.stdout.write("\r\x1b[K")
            self.prompt_shown = False

    def prompt(self):
        if self.interactive:
            with self.lock:
                sys.stdout.write("> ")
                sys.stdout.flush()
                self.prompt_shown = True

    def status(self, line):
        with self.lock:
            self._clear_prompt()
            print(line, file=sys.stderr if self.as_json else sys.stdout, flush=True)

    def sent(self, text):
        if self.as_json:
            print(compact(json_record(text, direction="sent"), self.raw), flush=True)
        elif self.interactive:
            self.prompt_shown = False  # the terminal echoed the line after the prompt
        else:
            print(f"> {describe_payload(text, self.raw)}", flush=True)

    def received(self, data):
        with self.lock:
            if self.as_json:
                print(compact(json_record(data), self.raw), flush=True)
                return
            shown = self.prompt_shown
            self._clear_prompt()
            print(f"< {describe_payload(data, self.raw)}", flush=not shown)
            if shown:
                sys.stdout.write("> ")
                sys.stdout.flush()
                self.prompt_shown = True

    def interrupted(self):
        with self.lock:
            # On a terminal the ^C stands after the prompt: keep it, start a new line.
            self.prompt_shown = False
            print(("\n" if sys.stdin.isatty() else "") + "Disconnecting...",
                  file=sys.stderr if self.as_json else sys.stdout, flush=True)

    def finish(self):
        with self.lock:
            self._clear_prompt()
            sys.stdout.flush()


def _stdin_lines(lines):
    """Daemon thread body: push each stdin line (decoded leniently), then None at EOF.

    Reads the file descriptor with ``os.read``: a daemon thread blocked inside
    ``sys.stdin.buffer`` would hold its lock and abort the interpreter at exit."""
    fd = sys.stdin.fileno()
    pending = b""
    try:
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for raw in complete:
                lines.put(raw.decode("utf-8", "replace").rstrip("\r"))
    except (OSError, ValueError):
        pass
    if pending:
        lines.put(pending.decode("utf-8", "replace").rstrip("\r"))
    lines.put(None)


class _Reader(threading.Thread):
    def __init__(self, ws, printer):
        super().__init__(name="mockd-ws-reader", daemon=True)
        self.ws = ws
        self.printer = printer
        self.closing = False     # we sent our close frame
        self.closed = None       # the server's Closed, when it closed first
        self.error = None
        self.last_message = time.monotonic()

    def run(self):
        try:
            while True:
                data = read_message(self.ws, on_close_reply=not self.closing)
                self.last_message = time.monotonic()
                self.printer.received(data)
        except Closed as closed:
            if not self.closing:
                self.closed = closed
        except BrokenPipeError as exc:
            self.error = exc
        except Exception as exc:  # the TCP connection died
            if not self.closing:
                self.error = exc


def connect(args):
    _sigterm_as_interrupt()
    as_json = bool(getattr(args, "json", False))
    printer = _Printer(as_json, getattr(args, "raw", False))
    printer.status(f"Connecting to {args.url}...")
    ws = open_connection(args)
    chosen = ws.getsubprotocol() if args.subprotocol else None
    if chosen:
        printer.status(f"Connected (subprotocol: {printable(chosen, newlines=False)})")
    else:
        printer.status("Connected. Type messages and press Enter to send. Ctrl+C to exit.")
    reader = _Reader(ws, printer)
    reader.start()
    printer.prompt()
    lines = queue.Queue()
    threading.Thread(target=_stdin_lines, args=(lines,), name="mockd-stdin", daemon=True).start()
    try:
        eof_at = None
        last_sent = time.monotonic()
        while reader.is_alive():
            if eof_at is not None:
                quiet_since = max(reader.last_message, last_sent, eof_at)
                now = time.monotonic()
                if now - quiet_since >= QUIET_AFTER_EOF or now - eof_at >= MAX_WAIT_AFTER_EOF:
                    break
                time.sleep(0.05)
                continue
            try:
                line = lines.get(timeout=0.1)
            except queue.Empty:
                continue
            if line is None:
                eof_at = time.monotonic()
                continue
            if not line:
                continue
            with printer.lock:
                printer.sent(line)
                try:
                    ws.send(line)
                except Exception as exc:
                    if reader.closed is None:
                        raise ClientError(f"send failed: {exc}") from None
            last_sent = time.monotonic()
            printer.prompt()
    except KeyboardInterrupt:
        printer.interrupted()
    except BrokenPipeError:
        _silence_stdout()
    finally:
        _end_session(ws, reader)
        printer.finish()
    if isinstance(reader.error, BrokenPipeError):
        _silence_stdout()
        return 0
    if reader.closed is not None:
        _server_closed(reader.closed, printer.status)
    elif reader.error is not None:
        raise ClientError(f"connection lost: {reader.error or type(reader.error).__name__}")
    return 0


def _end_session(ws, reader):
    if reader.is_alive():
        reader.closing = True
        try:
            ws.send_close(CLOSE_NORMAL)
        except Exception:
            pass
        reader.join(CLOSE_WAIT)
    try:
        ws.shutdown()
    except Exception:
        pass
    reader.join(1.0)
