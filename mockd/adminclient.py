"""A small blocking JSON client for the admin API (README.rst, "Admin API"), on ``urllib.request``.

Standard library only, so ``mockd.testing`` (``RunningServer.admin``) and the ``mockd websocket``
commands use it without Flask or gevent. Two levels:

- :meth:`AdminClient.request` (and ``get``, ``post``, ``put``, ``patch``, ``delete``) returns
  every HTTP answer as a :class:`Reply`, a 404 included, for tests to assert on;
- :meth:`AdminClient.call` returns the decoded JSON of a 2xx answer and raises
  :class:`AdminAPIError` for anything else.

Both raise :class:`AdminAPIError` when the API cannot be reached.
"""
import functools
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request

from .errors import MockdError

__all__ = ["AdminAPIError", "AdminClient", "Reply", "connection_path"]

TIMEOUT = 30.0
_NO_BODY = object()


class AdminAPIError(MockdError):
    """A failed admin API call, with what the API said.

    :ivar url: the client's base URL, e.g. ``http://localhost:4290``
    :ivar path: the path asked for, e.g. ``/mocks/echo``
    :ivar status: the HTTP status; None when no answer came (refused, reset, timed out), a 2xx
        when the answer was not JSON
    :ivar code: the API's error code (its ``error`` field, e.g. ``not_found``), or ``""``
    :ivar message: the API's ``message``, or what went wrong

    ``str(err)`` reads ``admin API: mock not found (HTTP 404 not_found)``, ``cannot reach the
    admin API at http://localhost:4290: Connection refused``, or ``the admin API at
    http://localhost:4290 answered /mocks with something else than JSON``.
    """

    def __init__(self, url, path, status=None, code="", message=""):
        self.url = url
        self.path = path
        self.status = status
        self.code = code
        self.message = message
        if status is None:
            text = f"cannot reach the admin API at {url}: {message}"
        elif status < 400:
            text = f"the admin API at {url} answered {path} with something else than JSON"
        else:
            text = f"admin API: {message} ({self.detail})"
        super().__init__(text)

    @property
    def detail(self):
        """``HTTP 404 not_found``: the status and the API's error code."""
        return f"HTTP {self.status} {self.code}".strip()

    @classmethod
    def from_reply(cls, url, path, reply):
        """The error for an answer with a 4xx or 5xx status: the API's ``error`` and ``message``
        fields, else its body as text, else the HTTP reason."""
        code, message = "", reply.body.decode("utf-8", "replace").strip() or reply.reason
        try:
            body = reply.json
        except ValueError:
            body = None
        if isinstance(body, dict):
            code = str(body.get("error") or "")
            message = str(body.get("message") or code or message)
        return cls(url, path, reply.status, code, message)


class Reply:
    """One HTTP answer: ``status``, ``reason``, ``headers``, ``body`` (bytes) and ``json``."""

    def __init__(self, status, headers, body, reason=""):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    @functools.cached_property
    def json(self):
        """The decoded body, None when it is empty; :exc:`ValueError` when it is not JSON."""
        return json.loads(self.body) if self.body.strip() else None

    def __repr__(self):
        try:
            shown = self.json
        except ValueError:
            shown = self.body
        return f"Reply({self.status}, {shown!r})"


class AdminClient:
    """A client of the admin API at ``base_url`` (``http://`` or ``https://``, else ValueError).

    :param token: sent as ``Authorization: Bearer TOKEN`` unless a request names its own
    :param insecure: with ``https://``, skip the certificate and host name checks
    :param cacert: with ``https://``, a PEM file of the CAs to trust (OSError when unreadable)
    """

    def __init__(self, base_url, token=None, timeout=TIMEOUT, insecure=False, cacert=None):
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"the admin API URL must start with http:// or https:// (got {base_url!r})")
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self._context = None
        if base_url.startswith("https://") and (insecure or cacert):
            self._context = ssl.create_default_context(cafile=cacert)
            if insecure:
                self._context.check_hostname = False
                self._context.verify_mode = ssl.CERT_NONE

    def url(self, path, query=None):
        """The full URL of ``path``; ``query`` entries whose value is None are left out."""
        query = {k: v for k, v in (query or {}).items() if v is not None}
        suffix = "?" + urllib.parse.urlencode(query) if query else ""
        return f"{self.base_url}{path}{suffix}"

    def request(self, method, path, body=_NO_BODY, query=None, headers=None, data=None):
        """Send ``body`` as JSON (or raw ``data`` bytes, also labelled ``application/json``
        unless ``headers`` says otherwise: the API takes no other type) and return the answer,
        whatever its status, as a :class:`Reply`.

        :raises AdminAPIError: with ``status`` None, when no answer came.
        """
        sent = {"Accept": "application/json", **(headers or {})}
        if self.token and "Authorization" not in sent:
            sent["Authorization"] = f"Bearer {self.token}"
        if body is not _NO_BODY:
            data = json.dumps(body).encode("utf-8")
        if data is not None:
            sent.setdefault("Content-Type", "application/json")  # urllib would say a form
        req = urllib.request.Request(self.url(path, query), data=data, method=method, headers=sent)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout, context=self._context) as response:
                return Reply(response.status, response.headers, response.read(), response.reason)
        except urllib.error.HTTPError as exc:
            with exc:
                return Reply(exc.code, exc.headers, exc.read() or b"", exc.reason)
        except urllib.error.URLError as exc:
            reason = exc.reason
            message = getattr(reason, "strerror", None) or str(reason)
            raise AdminAPIError(self.base_url, path, message=message) from exc
        except (OSError, ValueError) as exc:  # timeouts, resets, bad URLs
            raise AdminAPIError(self.base_url, path, message=str(exc)) from exc

    def call(self, method, path, body=_NO_BODY, query=None):
        """Send one request and return the decoded JSON of a 2xx answer (None when empty).

        :raises AdminAPIError: for any other answer, one that is not JSON, or none at all.
        """
        reply = self.request(method, path, body, query=query)
        if not 200 <= reply.status < 300:
            raise AdminAPIError.from_reply(self.base_url, path, reply)
        try:
            return reply.json
        except ValueError:
            raise AdminAPIError(self.base_url, path, reply.status) from None

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, body=_NO_BODY, **kwargs):
        return self.request("POST", path, body, **kwargs)

    def put(self, path, body=_NO_BODY, **kwargs):
        return self.request("PUT", path, body, **kwargs)

    def patch(self, path, body=_NO_BODY, **kwargs):
        return self.request("PATCH", path, body, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)


def connection_path(connection_id, suffix=""):
    """``/websocket/connections/<id><suffix>``, the id quoted."""
    return "/websocket/connections/" + urllib.parse.quote(connection_id, safe="") + suffix
