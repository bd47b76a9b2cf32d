"""Mocks written in YAML through the API (``POST /mocks``, ``PUT /mocks/{id}`` with ``Content-Type:
application/yaml``): the dashboard's editor sends what the user typed, as a config file's mock,
and shows each validation error at its line.

A YAML body is taken only on those routes (``guard.require_json``): like JSON it is a type no
HTML form or no-preflight ``fetch`` can send from another site. It is parsed with the config
file's loader (its alias and depth budgets) and checked like a JSON body; errors carry
``errors: [{"message", "where", "line", "column"}]``, the place in the text that was sent.
"""
import re

import yaml
from flask import request
from werkzeug.exceptions import RequestEntityTooLarge

from ..errors import ConfigError
from ..yamlerrors import explain
from ..yamlload import load_yaml
from ..greenlets import in_thread
from ..yamlplaces import places_of
from .common import MAX_BODY, ApiError, check_parsed, invalid, json_object

__all__ = ["YAML_TYPES", "mock_body", "validation_error"]

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")
_PLACE = re.compile(r"line (\d+), column (\d+)")


def mock_body():
    """The request's mock: ``(spec, text)``, ``text`` the YAML sent (None for JSON)."""
    if request.mimetype not in YAML_TYPES:
        return json_object(), None
    data = request.get_data(cache=True)
    if len(data) > MAX_BODY:
        raise RequestEntityTooLarge()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise invalid("request body is not UTF-8", "invalid_yaml") from None
    try:
        # PyYAML is pure Python (seconds for a large body): parsed off the loop, as a reload is.
        spec = in_thread(load_yaml, text, "<body>")
    except yaml.YAMLError as exc:
        where, message = explain(exc, text)
        place = _PLACE.search(where or "")
        error = {"message": message}
        if place:
            error.update(line=int(place.group(1)), column=int(place.group(2)))
        raise ApiError(400, "invalid_yaml", f"{where}: {message}" if where else message, errors=[error]) from None
    if not isinstance(spec, dict) or ("mocks" in spec and "websocket" not in spec):
        raise _not_one_mock(spec)
    check_parsed(spec)
    return spec, text


def _not_one_mock(spec):
    """The usual paste mistakes, said as such: a list entry with its ``- ``, a whole file."""
    if isinstance(spec, list) and len(spec) == 1 and isinstance(spec[0], dict):
        message = "this is a list of one mock: remove the leading '- ' (and its indentation)"
    elif isinstance(spec, list):
        message = f"this is a list of {len(spec)} items: paste one mock (to add many, POST /mocks/bulk or /config)"
    elif isinstance(spec, dict):
        message = "this is a whole config file (it has mocks:): paste one of its mocks, or import it with POST /config"
    else:
        message = "expected one mock: a mapping with id, websocket..."
    return ApiError(400, "validation_error", message, errors=[{"message": message, "line": 1, "column": 1}])


def check_id(spec, text, mock_id):
    """A YAML ``PUT /mocks/{id}`` whose text names another id: an editor's rename, which the URL
    would silently undo (a JSON body's id is ignored, as upstream's API does)."""
    if text is not None and spec.get("id") not in (None, mock_id):
        message = (f"the id cannot be changed here (this is mock {mock_id!r}): to make {spec['id']!r}, create a "
                   f"new mock, then delete this one")
        raise ApiError(400, "validation_error", message, errors=_placed([(message, "id")], text))


def conflict_error(exc, text):
    """A 409 (:class:`~mockd.errors.MockConflict`) with the place of the id or the path taken,
    for a YAML body (the editor shows it at its line)."""
    where = "id" if exc.code == "duplicate_id" else "websocket.path"
    return ApiError(409, exc.code, str(exc), errors=_placed([(str(exc), where)], text))


def validation_error(exc, text):
    """A 400 for ``exc`` (a :class:`ConfigError`) with each problem's place in ``text``."""
    problems = [(problem.message, problem.where) for problem in exc.errors]  # MAX_REPORTED at most
    return ApiError(400, "validation_error", str(exc), errors=_placed(problems, text))


def _placed(problems, text):
    """The ``errors`` entries of ``(message, where)`` pairs, each with its line and column in
    ``text`` (a YAML body; None for JSON) when found there: one composition for them all."""
    places = in_thread(places_of, text, [where for _message, where in problems]) if text is not None else {}
    errors = []
    for message, where in problems:
        error = {"message": message, "where": where}
        if where in places:
            error.update(line=places[where][0], column=places[where][1])
        errors.append(error)
    return errors


def built(build, spec, text):
    """``build(spec)``; a :class:`ConfigError` becomes :func:`validation_error`."""
    try:
        return build(spec)
    except ConfigError as exc:
        raise validation_error(exc, text) from None
