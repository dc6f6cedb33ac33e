"""``GET /api/search`` without Flask's request cycle.

Search is the service's hot path, and Flask's per-request machinery around the view (request and
application contexts, URL routing, signals, a Response object and its finalisation) cost
≈ 0.15–0.25 ms of a ≈ 5 ms request on the production server. This WSGI middleware, installed in
front of the Flask app (``app.wsgi_app = FastSearch(app)``), answers exactly ``GET /api/search``
with the app's own parts: its request class parses the query string, ``api.search_body`` does the
view's work, the app's JSON provider writes the body, errors get the API's one error shape, and the
headers are those every JSON response of the app carries (content type and length, the security
headers, ``Retry-After`` and the like from ``ApiError``). Anything else — other paths and methods,
HEAD and OPTIONS on /api/search included, and every request in debug mode (indented JSON) — goes
to Flask unchanged. ``tests/test_api.py`` runs
through it, and ``test_fast_search_matches_flask`` compares it with the Flask view byte for byte.
"""
from __future__ import annotations

import logging

from flask import Flask
from search.service import api, errors, guard
from search.service.auth import policy
from search.service.gaps import capture

log = logging.getLogger(__name__)


class FastSearch:
    def __init__(self, app: Flask):
        self.app, self.flask_wsgi_app = app, app.wsgi_app

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != "/api/search" or environ.get("REQUEST_METHOD") != "GET" or self.app.debug:
            return self.flask_wsgi_app(environ, start_response)
        request = self.app.request_class(environ)
        status, headers = 200, []
        try:
            client = request.remote_addr or "unknown"
            principal = policy.check(self.app, request, "api.search", client)   # the one policy point
            body = api.search_body(self.app.extensions["kb"], request.args, client, policy.hidden_audiences(principal),
                                   capture.caller_of(principal, client))
        except errors.ApiError as exc:
            status, headers, body = exc.status, list(exc.headers.items()), errors.error_body(exc.code, exc.message)
        except Exception:  # noqa: BLE001 - like the app's handler: logged, never a stack trace to the client
            log.exception("unhandled error on GET /api/search")
            status, body = 500, errors.error_body("internal_error", errors.INTERNAL_MESSAGE)
        return guard.wsgi_json(self.app, start_response, status, body, headers)
