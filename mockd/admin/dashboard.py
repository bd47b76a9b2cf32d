"""The dashboard: the static page at ``/ui/`` (``mockd/admin/ui/static/``: HTML, CSS and plain
JavaScript modules, no build step, nothing fetched from elsewhere) over the admin API.

The files need no token (they hold no data: the page asks for the token when the API answers
401, and keeps it for the tab); every call the page makes is a same-origin API request, token
and checks included. The Content-Security-Policy allows this origin's scripts, styles and
connections only, and no framing, so an injected string can neither run nor leave.
"""
from pathlib import Path

from flask import Blueprint, redirect, send_from_directory

from .common import not_found

bp = Blueprint("dashboard", __name__)

STATIC = Path(__file__).parent / "ui" / "static"
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@bp.get("/ui")
def to_index():
    return redirect("/ui/", 308)


@bp.get("/ui/")
def index():
    return asset("index.html")


@bp.get("/ui/<path:name>")
def asset(name):
    if not (STATIC / "index.html").is_file():
        raise not_found("the dashboard's files are missing from this installation (mockd/admin/ui/static)")
    # send_from_directory refuses names that leave the directory (.., absolute): 404
    response = send_from_directory(STATIC, name, max_age=0)
    response.headers.update(HEADERS)
    return response
