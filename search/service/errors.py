"""The API's one error shape: ``{"error": {"code": "...", "message": "..."}}``, for every 4xx/5xx."""
from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)
INTERNAL_MESSAGE = "internal error; the server log has the details"


class ApiError(Exception):
    """Raised by handlers; ``message`` names the parameter or field and what to do."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def error_body(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


def error_response(status: int, code: str, message: str, headers: dict | None = None):
    response = jsonify(error_body(code, message))
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _http_code(exc: HTTPException) -> str:
    return (exc.name or "error").lower().replace(" ", "_").replace("'", "")


def init_app(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if exc.code == 404 and not _is_api(request.path):
            from search.service.site import not_found_page

            return not_found_page()
        message, headers = exc.description or exc.name, {}
        if exc.code == 405:
            allowed = ", ".join(sorted(exc.valid_methods or []))
            message, headers = f"method {request.method} is not allowed on {request.path}; allowed: {allowed}", {"Allow": allowed}
        elif exc.code == 413:
            message = f"request body is larger than {app.config['MAX_CONTENT_LENGTH'] // 1024} KB; send less text"
        elif exc.code == 404:
            message = f"no such endpoint: {request.path}; see /api/openapi.json"
        return error_response(exc.code or 500, _http_code(exc), message, headers)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # never a stack trace to the client
        # the path as a Python literal: a client's CR, LF or ANSI escapes never reach the log raw
        log.exception("unhandled error on %s %r", request.method, request.path[:300])
        return error_response(500, "internal_error", INTERNAL_MESSAGE)


def _is_api(path: str) -> bool:
    return path.startswith("/api/") or path in ("/healthz", "/readyz")
