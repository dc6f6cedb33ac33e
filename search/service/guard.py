"""What every request passes before a view runs.

- ``Guard`` (WSGI middleware, outermost): the ``Host`` header must name this service
  (``allowed_hosts``: a page on a DNS-rebound name cannot read the API), and a chunked body is read
  here up to the body limit, so it is refused with 413 like the same body sent with Content-Length
  (Werkzeug would cut it silently at the limit).
- ``before_request`` (Flask): per-client rate limits on every route (the API budget for ``/api/*``, a
  larger one for the site's files and the health probes ``/healthz`` and ``/readyz``; ``GET /api/search`` counts itself
  in ``api.search_body``), and cross-site writes refused: a write whose ``Sec-Fetch-Site`` is neither
  ``same-origin`` nor ``none`` (typed by a person, curl sends none), or whose ``Origin`` is another
  origin, is a 403. curl and integrations send neither header and pass.
"""
from __future__ import annotations

import io
import re
from urllib.parse import urlsplit

from flask import Flask, request
from werkzeug.http import HTTP_STATUS_CODES

from search.service import errors
from search.service.errors import ApiError

HOST_RE = re.compile(r"(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::[0-9]{1,5})?")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SAME_ORIGIN_FETCH = frozenset({"same-origin", "none"})
CHUNK = 16 * 1024


def host_allowed(host_header: str | None, allowed: list[str]) -> bool:
    """Whether a ``Host`` header (``name[:port]``) names an allowed host; no header (HTTP/1.0) is allowed."""
    if host_header is None:
        return True
    match = HOST_RE.fullmatch(host_header.strip())
    if match is None:
        return False
    name = match.group(1).lower().strip("[]").rstrip(".")
    return any(ref == "*" or ref.strip("[]") == name or (ref.startswith(".") and (name == ref[1:] or name.endswith(ref)))
               for ref in allowed)


def wsgi_json(app: Flask, start_response, status: int, body: dict, headers: list[tuple[str, str]]) -> list[bytes]:
    """A JSON response outside Flask's request cycle, with the headers every app response carries."""
    data = app.json.encode(body)
    start_response(f"{status} {HTTP_STATUS_CODES[status].upper()}",
                   [("Content-Type", "application/json"), ("Content-Length", str(len(data))), *headers,
                    *app.config["KB_HEADERS"]])
    return [data]


def _buffer_chunked_body(environ: dict, limit: int) -> None:
    """Read a chunked body (no Content-Length) up to ``limit`` bytes and hand it on as if it had one."""
    if environ.get("CONTENT_LENGTH") or "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return
    stream, parts, size = environ["wsgi.input"], [], 0
    while size <= limit:
        block = stream.read(min(CHUNK, limit + 1 - size))
        if not block:
            break
        parts.append(block)
        size += len(block)
    if size > limit:
        raise ApiError(413, "request_entity_too_large", f"request body is larger than {limit // 1024} KB; send less text",
                       {"Connection": "close"})
    data = b"".join(parts)
    environ.update({"wsgi.input": io.BytesIO(data), "CONTENT_LENGTH": str(len(data)), "wsgi.input_terminated": False})


class Guard:
    def __init__(self, app: Flask, inner):
        self.app, self.inner = app, inner
        self.allowed = app.extensions["kb"].settings.host_allowlist

    def __call__(self, environ, start_response):
        try:
            if not host_allowed(environ.get("HTTP_HOST"), self.allowed):
                raise ApiError(400, "host_not_allowed", "the Host header names a host this service does not answer; "
                               "use its configured name (the allowed_hosts setting)")
            _buffer_chunked_body(environ, self.app.config["MAX_CONTENT_LENGTH"])
        except ApiError as exc:
            return wsgi_json(self.app, start_response, exc.status, errors.error_body(exc.code, exc.message),
                             list(exc.headers.items()))
        return self.inner(environ, start_response)


def _is_api(path: str) -> bool:
    """The API budget; health probes and the site's files share the larger one (a probe every second
    from a load balancer must not eat a client's API budget)."""
    return path.startswith("/api/")


def client_address() -> str:
    """The client a request counts against (the peer address)."""
    return request.remote_addr or "unknown"


def rate_limit(state, client: str, site: bool = False) -> None:
    limit = state.settings.site_rate_limit_per_minute if site else state.settings.rate_limit_per_minute
    allowed, retry_after = state.limiter.hit(("site:" if site else "") + client, per_minute=limit)
    if not allowed:
        raise ApiError(429, "rate_limited", f"more than {limit} requests per minute from this client; "
                       f"retry after {retry_after} s", {"Retry-After": str(retry_after)})


def _refuse_cross_site() -> None:
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site.lower() not in SAME_ORIGIN_FETCH:
        raise ApiError(403, "cross_site_request", f"a {fetch_site} request may not write here; "
                       "send it from this site's own pages or from a server (curl, an integration)")
    origin = request.headers.get("Origin")
    if origin is None:
        return
    parts = urlsplit(origin) if origin != "null" else None
    host = request.host.lower()
    # behind a proxy that forwards the Host without its port, compare the names only
    same = parts is not None and (parts.netloc.lower() == host or (":" not in host and parts.hostname == host))
    if not same:
        raise ApiError(403, "cross_site_request", f"a request from origin {origin[:100]!r} may not write here; "
                       "send it from this site's own pages or from a server (curl, an integration)")


def init_app(app: Flask) -> None:
    @app.before_request
    def _check():
        state = app.extensions["kb"]
        if request.endpoint != "api.search":   # search_body counts GET /api/search (and HEAD) itself
            rate_limit(state, client_address(), site=not _is_api(request.path))
        if request.method not in SAFE_METHODS:
            _refuse_cross_site()
