"""``mockd websocket send|listen`` and the connection helpers that ``connect`` (repl.py)
shares: a blocking WebSocket client over websocket-client, without gevent. Output formats
are those of README.rst, "Command line".
"""
import base64
import binascii
import datetime
import json
import os
import signal
import socket
import ssl
import struct
import sys
import threading

from ..closecodes import CLOSE_GOING_AWAY, CLOSE_NO_STATUS, CLOSE_NORMAL
from .common import ClientError, UsageError
from .terminal import printable, printable_json

CLOSE_WAIT = 3.0        # seconds to wait for the server's answer to our close frame
NORMAL_CLOSE_CODES = (CLOSE_NORMAL, CLOSE_GOING_AWAY, CLOSE_NO_STATUS)


def timestamp():
    """RFC 3339, local time, seconds (Go's ``time.RFC3339``)."""
    text = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def describe_payload(data, raw=False):
    """How a message prints: text with control characters escaped (as is when ``raw``),
    binary as ``[binary N bytes] BASE64``."""
    if isinstance(data, str):
        return data if raw else printable(data)
    return f"[binary {len(data)} bytes] {base64.b64encode(data).decode('ascii')}"


def json_record(data, **extra):
    record = dict(extra, timestamp=timestamp())
    if isinstance(data, str):
        record.update(data=data, type="text")
    else:
        record.update(data=base64.b64encode(data).decode("ascii"), type="binary")
    return record


def compact(record, raw=False):
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text if raw else printable_json(text)


def _sigterm_as_interrupt():
    def handler(signum, frame):
        raise KeyboardInterrupt
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)


def _silence_stdout():
    # After EPIPE: further writes (and the interpreter's final flush) go nowhere.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


# ---------------------------------------------------------------- the connection


class Closed(Exception):
    """The server closed the connection: ``code`` (1005 when the frame had none) and ``reason``."""

    def __init__(self, code, reason):
        super().__init__(f"{code} {reason}".strip())
        self.code = code
        self.reason = reason

    def describe(self):
        return printable(f"{self.code} {self.reason}".strip(), newlines=False)  # the server's words


def _ssl_options(args):
    if getattr(args, "insecure", False):
        return {"cert_reqs": ssl.CERT_NONE, "check_hostname": False}
    if getattr(args, "cacert", None):
        return {"ca_certs": args.cacert}
    return None


def _handshake_failure(exc):
    body = (exc.resp_body or b"").decode("utf-8", "replace").strip()
    reason = f"bad handshake: {body}" if body else f"bad handshake: {exc.status_code} {exc.status_message or ''}"
    return ClientError(f"connection failed: {reason.strip()} (HTTP {exc.status_code})")


def _wrong_scheme(url, args):
    """A :class:`ClientError` naming the scheme to use when the server speaks the other one."""
    from .schemes import PROBE_TIMEOUT, other_scheme_hint

    hint = other_scheme_hint(url, min(args.timeout, PROBE_TIMEOUT))
    return ClientError(f"connection failed: {hint}") if hint else None


def open_connection(args):
    """Connect to ``args.url``; raise :class:`ClientError` with upstream's wording on failure."""
    import websocket

    url = args.url
    if not url.startswith(("ws://", "wss://")):
        raise UsageError(f"URL must start with ws:// or wss:// (got {url!r})")
    options = {"timeout": args.timeout, "header": [f"{name}: {value}" for name, value in args.header],
               "enable_multithread": True}
    if args.subprotocol:
        options["subprotocols"] = [args.subprotocol]
    sslopt = _ssl_options(args)
    if sslopt:
        options["sslopt"] = sslopt
    try:
        ws = websocket.create_connection(url, **options)
    except websocket.WebSocketBadStatusException as exc:
        raise _handshake_failure(exc) from None
    except (websocket.WebSocketTimeoutException, TimeoutError):
        raise ClientError(f"connection failed: timed out after {args.timeout:g}s") from None
    except ssl.SSLError as exc:
        if isinstance(exc, ssl.SSLCertVerificationError):
            raise ClientError(f"connection failed: TLS: {exc.reason or exc} (trust it with --cacert FILE, "
                              "or skip the check with -k)") from None
        # An alert comes from a server that speaks TLS; anything else may be a plain one.
        plain = None if "ALERT" in str(exc.reason) else _wrong_scheme(url, args)
        raise plain or ClientError(f"connection failed: TLS: {exc.reason or exc}") from None
    except (ConnectionRefusedError, socket.gaierror) as exc:  # nothing listens: no scheme would do
        raise ClientError(f"connection failed: {exc}") from None
    except (OSError, websocket.WebSocketException, ValueError) as exc:
        raise _wrong_scheme(url, args) or ClientError(f"connection failed: {exc}") from None
    ws.settimeout(None)
    return ws


def read_message(ws, on_close_reply=True):
    """The next data message, ``str`` or ``bytes``; answers pings. Raises :class:`Closed` when
    the server's close frame arrives (answered with the same code unless ``on_close_reply`` is
    false, i.e. we sent ours first), or ``OSError``/``WebSocketException`` when the TCP
    connection dies."""
    from websocket import ABNF

    while True:
        frame = ws.recv_frame()
        opcode = frame.opcode
        if opcode in (ABNF.OPCODE_TEXT, ABNF.OPCODE_BINARY, ABNF.OPCODE_CONT):
            ws.cont_frame.validate(frame)
            ws.cont_frame.add(frame)
            if ws.cont_frame.is_fire(frame):
                opcode, frame = ws.cont_frame.extract(frame)
                data = frame.data
                if opcode == ABNF.OPCODE_TEXT:
                    return data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
                return bytes(data)
        elif opcode == ABNF.OPCODE_CLOSE:
            payload = bytes(frame.data or b"")
            code, reason = CLOSE_NO_STATUS, ""
            if len(payload) >= 2:
                code = struct.unpack("!H", payload[:2])[0]
                reason = payload[2:].decode("utf-8", "replace")
            if on_close_reply and ws.connected:
                try:
                    ws.send_close(code if len(payload) >= 2 else CLOSE_NORMAL)
                except (OSError, Exception):
                    pass
            raise Closed(code, reason)
        elif opcode == ABNF.OPCODE_PING:
            ws.pong(frame.data)


def _close(ws, timeout=CLOSE_WAIT):
    try:
        ws.close(status=CLOSE_NORMAL, timeout=timeout)
    except Exception:
        pass
    finally:
        try:
            ws.shutdown()
        except Exception:
            pass


def _server_closed(closed, say):
    """Report a close by the server; a code other than 1000/1001 (or none) is a failure."""
    say(f"Connection closed by server ({closed.describe()})")
    if closed.code not in NORMAL_CLOSE_CODES:
        raise ClientError(f"connection closed by server with {closed.describe()}")


# ---------------------------------------------------------------- send


def _message_payload(args):
    text = args.message
    if text.startswith("@"):
        try:
            with open(text[1:], "rb") as fh:
                raw = fh.read()
        except OSError as exc:
            raise ClientError(f"failed to read message file: {exc.strerror or exc}: {text[1:]}") from None
        if args.binary:
            return raw
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError(f"{text[1:]} is not UTF-8 text; use --binary to send it as bytes") from None
    if args.binary:
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise UsageError("--binary needs MESSAGE in standard base64 (or @FILE for raw bytes)") from None
    return text


def send(args):
    _sigterm_as_interrupt()
    payload = _message_payload(args)
    ws = open_connection(args)
    reply = None
    try:
        if isinstance(payload, bytes):
            ws.send_binary(payload)
        else:
            ws.send(payload)
        if args.wait:
            ws.settimeout(args.timeout)
            try:
                reply = read_message(ws)
            except Closed as closed:
                raise ClientError(f"no reply: connection closed by server ({closed.describe()})") from None
            except Exception as exc:
                if "timed out" in str(exc) or isinstance(exc, TimeoutError):
                    # Only the error, on standard error: "Sent to" on standard output reads
                    # as success, and a script would take it for one.
                    raise ClientError(f"no reply within {args.timeout:g}s (the message was sent to "
                                      f"{args.url})") from None
                raise ClientError(f"connection lost: {exc}") from None
    finally:
        _close(ws)
    raw = getattr(args, "raw", False)
    shown = describe_payload(payload, raw)
    if getattr(args, "json", False):
        result = {"message": payload if isinstance(payload, str) else base64.b64encode(payload).decode("ascii"),
                  "success": True, "timestamp": timestamp(), "url": args.url}
        if isinstance(payload, bytes):
            result["type"] = "binary"
        if args.wait:
            result["reply"] = json_record(reply)
        text = json.dumps(result, indent=2, sort_keys=True, ensure_ascii=False)
        print(text if raw else printable_json(text))
    else:
        print(f"Sent to {args.url}: {shown}")
        if args.wait:
            print(f"< {describe_payload(reply, raw)}")
    return 0


# ---------------------------------------------------------------- listen


def listen(args):
    _sigterm_as_interrupt()
    as_json = bool(getattr(args, "json", False))
    raw = getattr(args, "raw", False)
    count = args.count
    print(f"Connecting to {args.url}...", file=sys.stderr, flush=True)
    ws = open_connection(args)
    if count:
        print(f"Listening for {count} messages (Ctrl+C to stop)", file=sys.stderr, flush=True)
    else:
        print("Listening for messages (Ctrl+C to stop)", file=sys.stderr, flush=True)
    received = 0
    closed = None
    try:
        while not count or received < count:
            try:
                data = read_message(ws)
            except Closed as exc:
                closed = exc
                break
            except Exception as exc:  # the TCP connection died
                raise ClientError(f"connection lost: {exc}") from None
            if as_json:
                print(compact(json_record(data, index=received), raw), flush=True)
            else:
                print(describe_payload(data, raw), flush=True)
            received += 1
        if closed is None:
            print(f"Received {received} messages", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print(("\n" if sys.stderr.isatty() else "") + "Disconnecting...", file=sys.stderr, flush=True)
    except BrokenPipeError:
        _silence_stdout()
    finally:
        if closed is None:
            _close(ws)
        else:
            try:
                ws.shutdown()
            except Exception:
                pass
    if closed is not None:
        _server_closed(closed, lambda line: print(line, file=sys.stderr, flush=True))
    return 0
