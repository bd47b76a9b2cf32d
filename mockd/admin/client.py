"""A tiny JSON client for the admin API over real HTTP, for tests and scripts.

Standard library only (``urllib.request``), so ``mockd.testing`` users need nothing extra.
Errors are answers, not exceptions: a 404 comes back as a :class:`Reply` to assert on.
"""
import json
import urllib.error
import urllib.parse
import urllib.request

_NO_BODY = object()


class Reply:
    """``status``, ``headers`` and ``json`` (the parsed body, or None when it is empty)."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        self.json = json.loads(body) if body.strip() else None

    def __repr__(self):
        return f"Reply({self.status}, {self.json!r})"


class AdminClient:
    def __init__(self, base_url, token=None, timeout=30.0):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def request(self, method, path, body=_NO_BODY, query=None, headers=None, data=None):
        """Send ``body`` as JSON (or raw ``data`` bytes, also labelled ``application/json``
        unless ``headers`` says otherwise: the API takes no other type) and return a :class:`Reply`."""
        url = self.base_url + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        sent = dict(headers or {})
        if self.token and "Authorization" not in sent:
            sent["Authorization"] = f"Bearer {self.token}"
        if body is not _NO_BODY:
            data = json.dumps(body).encode("utf-8")
        if data is not None:
            sent.setdefault("Content-Type", "application/json")  # urllib would say a form
        req = urllib.request.Request(url, data=data, method=method, headers=sent)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as response:
                return Reply(response.status, response.headers, response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return Reply(exc.code, exc.headers, exc.read())

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
