"""What every admin blueprint shares: the server, JSON bodies, query parameters, errors."""
import datetime
import json
import re

from flask import current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from ..depth import MAX_NESTING, deeper_than
from ..durations import parse_duration
from ..jsontext import loads_json
from ..schema import join_where, type_name

SERVER_KEY = "mockd.server"
MAX_BODY = 1024 * 1024
_ABSENT = object()
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class ApiError(Exception):
    """Answered as ``{"error": code, "message": message}`` (plus ``extra``) with ``status``."""

    def __init__(self, status, code, message, **extra):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


def not_found(message):
    return ApiError(404, "not_found", message)


def invalid(message, code="validation_error"):
    return ApiError(400, code, message)


def no_content():
    """A 204 without a Content-Type (Flask would call the empty body text/html)."""
    response = current_app.response_class(status=204)
    del response.headers["Content-Type"]
    return response


def server():
    """The :class:`~mockd.server.MockServer` this app was created for."""
    return current_app.extensions[SERVER_KEY]


def json_body(default=_ABSENT):
    """The request body parsed as JSON (``guard.require_json`` has checked its Content-Type).
    An empty body gives ``default``, or a 400 when there is none."""
    data = request.get_data(cache=True)
    # The app's stream limit is MAX_BODY + 1: Werkzeug silently stops a chunked body at the
    # limit, so one byte more is how a body that is too long shows itself.
    if len(data) > MAX_BODY:
        raise RequestEntityTooLarge()
    if not data.strip():
        if default is _ABSENT:
            raise invalid("request body must be JSON", "invalid_json")
        return default
    try:
        value = loads_json(data)
    except UnicodeDecodeError:
        raise invalid("request body is not UTF-8", "invalid_json") from None
    except json.JSONDecodeError as exc:
        raise invalid(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", "invalid_json") from None
    except (ValueError, RecursionError) as exc:  # a 5000-digit number, or nesting too deep
        raise invalid(f"invalid JSON: {exc}", "invalid_json") from None
    check_parsed(value)
    return value


def check_parsed(value):
    """Refuse JSON nested deeper than a config file may be (the same walks follow: validating,
    compiling, rendering), and strings holding a lone surrogate: JSON's ``"\\ud800"`` parses to
    one, which is no text and fails whenever it is encoded as UTF-8 (sent in a frame, journaled,
    served as a reply), far from the request that brought it."""
    if deeper_than(value, MAX_NESTING):
        raise invalid(f"JSON nested deeper than {MAX_NESTING} levels", "invalid_json")
    stack = [(value, None)]  # (item, (parent's trail, key)): where it is, built on error only
    while stack:
        item, trail = stack.pop()
        if isinstance(item, str):
            _check_text(item, trail)
        elif isinstance(item, (dict, list)):
            for key, child in (item.items() if isinstance(item, dict) else enumerate(item)):
                if isinstance(key, str):
                    _check_text(key, trail, "a key")
                stack.append((child, (trail, key)))


def _check_text(text, trail, what="a string"):
    bad = _SURROGATE.search(text)
    if bad is None:
        return
    keys = []
    while trail is not None:
        trail, key = trail
        keys.append(key)
    where = None
    for key in reversed(keys):
        where = join_where(where, key)
    raise invalid(f"{what} at {where or 'the top level'} holds a lone surrogate ({bad.group()!r}), which is not "
                  f"text: a character beyond U+FFFF is written as a pair of escapes (\\ud83d\\ude00) or as "
                  f"itself in UTF-8", "invalid_json")


def json_object(default=_ABSENT):
    """Like :func:`json_body`, but the body must be a JSON object."""
    body = json_body(default)
    if not isinstance(body, dict):
        raise invalid(f"request body must be a JSON object, got {_json_type(body)}")
    return body


def _json_type(value):
    return type_name(value, in_json=True)


def field(body, name, kinds, what, default=None):
    """``body[name]`` when it has one of ``kinds`` (booleans never pass as numbers)."""
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise invalid(f"{name}: expected {what}, got {_json_type(value)}")
    return value


def bounded_int(value, name, minimum=0, maximum=None):
    """A JSON integer within bounds, or a 400 ``invalid_parameter``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(f"{name}: expected a whole number, got {_json_type(value)}", "invalid_parameter")
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and at most {maximum}" if maximum is not None else ""
        raise invalid(f"{name}: must be at least {minimum}{upper}, got {value}", "invalid_parameter")
    return value


def query_int(name, minimum=0, maximum=None):
    value = request.args.get(name)
    if value in (None, ""):
        return None
    try:
        number = int(value.strip())
    except ValueError:
        raise invalid(f"{name}: expected a whole number, got {value!r}", "invalid_parameter") from None
    return bounded_int(number, name, minimum, maximum)


def query_bool(name):
    value = request.args.get(name)
    if value in (None, ""):
        return None
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise invalid(f"{name}: expected true or false, got {value!r}", "invalid_parameter")


def query_choice(name, choices):
    value = request.args.get(name)
    if value in (None, ""):
        return None
    if value not in choices:
        raise invalid(f"{name}: expected one of {', '.join(choices)}, got {value!r}", "invalid_parameter")
    return value


def seconds(value, name, maximum):
    """A timeout given as seconds (a number) or a duration string such as ``"2s"``."""
    if isinstance(value, str):
        try:
            value = parse_duration(value)
        except ValueError as exc:
            raise invalid(f"{name}: {exc}") from None
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise invalid(f"{name}: expected seconds or a duration string like '2s', got {_json_type(value)}")
    if not 0 <= value <= maximum:  # also rejects NaN
        raise invalid(f"{name}: must be between 0 and {maximum:g} seconds, got {value!r}")
    return float(value)


def rfc3339(timestamp=None):
    moment = datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc) if timestamp is not None \
        else datetime.datetime.now(datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
