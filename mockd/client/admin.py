"""A small blocking client for the admin API (README.rst, "Admin API"), on ``urllib.request``.

Errors become :class:`~mockd.client.ClientError` with the API's own message, e.g.
``admin API: mock not found (HTTP 404 not_found)``, or ``cannot reach the admin API at
http://localhost:4290: Connection refused``.
"""
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request

from . import ClientError

TIMEOUT = 10.0


class AdminClient:
    def __init__(self, base_url, token=None, insecure=False, cacert=None, timeout=TIMEOUT, token_source=None):
        """``token_source`` names where ``token`` came from (``--admin-token`` or
        ``MOCKD_ADMIN_TOKEN``), for the message when the API refuses it."""
        if not base_url.startswith(("http://", "https://")):
            from . import UsageError
            raise UsageError(f"--admin-url must start with http:// or https:// (got {base_url!r})")
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.token_source = token_source or "--admin-token"
        self.timeout = timeout
        self._context = None
        if base_url.startswith("https://") and (insecure or cacert):
            try:
                self._context = ssl.create_default_context(cafile=cacert)
            except (OSError, ssl.SSLError) as exc:
                from . import UsageError
                raise UsageError(f"--cacert {cacert}: {getattr(exc, 'strerror', None) or exc}") from None
            if insecure:
                self._context.check_hostname = False
                self._context.verify_mode = ssl.CERT_NONE

    def url(self, path, query=None):
        query = {k: v for k, v in (query or {}).items() if v is not None}
        suffix = "?" + urllib.parse.urlencode(query) if query else ""
        return f"{self.base_url}{path}{suffix}"

    def request(self, method, path, body=None, query=None):
        """Send one request; the decoded JSON answer (None for an empty body)."""
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.url(path, query), data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout, context=self._context) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise self._api_error(exc) from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            text = getattr(reason, "strerror", None) or str(reason)
            raise ClientError(f"cannot reach the admin API at {self.base_url}: {text}") from None
        except (OSError, ValueError) as exc:  # timeouts, resets, bad URLs
            raise ClientError(f"cannot reach the admin API at {self.base_url}: {exc}") from None
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise ClientError(f"the admin API at {self.base_url} answered {path} with something else than "
                              f"JSON; is --admin-url right?") from None

    def _api_error(self, exc):
        raw = exc.read() or b""
        code, message = "", raw.decode("utf-8", "replace").strip() or exc.reason
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if isinstance(body, dict):
            code = str(body.get("error") or "")
            message = str(body.get("message") or code or message)
        detail = f"HTTP {exc.code} {code}".strip()
        if exc.code == 401:
            # The API answers the same 401 to no token and to a wrong one; only the client
            # knows which it was, and the fixes differ. (A 403 is about Host or Origin, and
            # says what to do itself.)
            if self.token:
                return ClientError(f"the admin API at {self.base_url} refused the token from "
                                   f"{self.token_source}: check it ({detail})")
            return ClientError(f"the admin API at {self.base_url} needs a token: pass --admin-token or set "
                               f"MOCKD_ADMIN_TOKEN ({detail})")
        return ClientError(f"admin API: {message} ({detail})")

    def get(self, path, **query):
        return self.request("GET", path, query=query)

    def post(self, path, body=None):
        return self.request("POST", path, body=body)

    def delete(self, path):
        return self.request("DELETE", path)


def connection_path(connection_id, suffix=""):
    return "/websocket/connections/" + urllib.parse.quote(connection_id, safe="") + suffix
