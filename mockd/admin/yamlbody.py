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
from ..yamlplaces import place_of
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
        spec = load_yaml(text, "<body>")
    except yaml.YAMLError as exc:
        where, message = explain(exc, text)
        place = _PLACE.search(where or "")
        error = {"message": message}
        if place:
            error.update(line=int(place.group(1)), column=int(place.group(2)))
        raise ApiError(400, "invalid_yaml", f"{where}: {message}" if where else message, errors=[error]) from None
    if not isinstance(spec, dict):
        raise ApiError(400, "validation_error", "the YAML must be one mock: a mapping with id, websocket...",
                       errors=[{"message": "expected a mapping (one mock)", "line": 1, "column": 1}])
    check_parsed(spec)
    return spec, text


def validation_error(exc, text):
    """A 400 for ``exc`` (a :class:`ConfigError`) with each problem's place in ``text``."""
    errors = []
    for problem in exc.errors:
        error = {"message": problem.message, "where": problem.where}
        place = place_of(text, problem.where) if text is not None else None
        if place is not None:
            error.update(line=place[0], column=place[1])
        errors.append(error)
    return ApiError(400, "validation_error", str(exc), errors=errors)


def built(build, spec, text):
    """``build(spec)``; a :class:`ConfigError` becomes :func:`validation_error`."""
    try:
        return build(spec)
    except ConfigError as exc:
        raise validation_error(exc, text) from None
