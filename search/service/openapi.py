"""OpenAPI 3.0 description of every endpoint, parameter, response and error (pinned by tests)."""
from __future__ import annotations

from search.service.ticket_ids import REFUSED_CLASS

ERROR = {"$ref": "#/components/schemas/Error"}


def _err(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": ERROR}}}


def _json(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _q(name: str, schema: dict, description: str, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


OBJ = {"type": "object"}
READY = {"type": "object", "required": ["status", "build_id", "chunks"],
         "properties": {"status": {"type": "string", "enum": ["ready"]}, "build_id": {"type": "string"},
                        "chunks": {"type": "integer"},
                        "writes_enabled": {"type": "boolean", "description": "whether link writes are accepted (api_token set)"},
                        "warning": {"type": "string", "description": "why a newer published build is not served"}}}
SECTION_HIT = {"type": "object", "required": ["anchor", "heading", "url", "score", "lanes", "identifiers", "snippet"],
               "properties": {"chunk": {"type": "integer"}, "anchor": {"type": "string"}, "heading": {"type": "string"},
                              "heading_path": {"type": "array", "items": {"type": "string"}},
                              "url": {"type": "string"}, "score": {"type": "number"},
                              "lanes": {"type": "array", "items": {"type": "string", "enum": ["identifier", "lexical", "dense"]}},
                              "identifiers": {"type": "array", "items": {"type": "string"}},
                              "snippet": {"type": "string", "description": "HTML-escaped text; matches wrapped in <mark>"}}}
RESULT = {"type": "object", "required": ["article_id", "title", "type", "service_area", "url", "stable_url", "score", "best", "more"],
          "properties": {"article_id": {"type": "string"}, "title": {"type": "string"}, "type": {"type": "string"},
                         "service_area": {"type": "string"}, "url": {"type": "string"}, "stable_url": {"type": "string"},
                         "score": {"type": "number"}, "best": SECTION_HIT, "more": {"type": "array", "items": SECTION_HIT}}}
SEARCH = {"type": "object", "required": ["query", "mode", "confident", "no_confident_match", "results", "build_id"],
          "properties": {"query": {"type": "string"}, "mode": {"type": "string"}, "confident": {"type": "boolean"},
                         "no_confident_match": {"type": "boolean"}, "identifiers": {"type": "array", "items": {"type": "string"}},
                         "matched_articles": {"type": "integer", "minimum": 0, "nullable": True},
                         "build_id": {"type": "string"}, "took_ms": {"type": "number"},
                         "results": {"type": "array", "items": RESULT}}}
LINK = {"type": "object", "required": ["id", "ticket_id", "article_id", "anchor", "source", "created_at"],
        "properties": {"id": {"type": "integer"}, "ticket_id": {"type": "string"}, "article_id": {"type": "string"},
                       "anchor": {"type": "string"}, "source": {"type": "string", "enum": ["suggested", "searched", "manual"]},
                       "agent": {"type": "string", "nullable": True}, "created_at": {"type": "string"}}}
SUGGESTION = {"type": "object", "required": ["rank", "article_id", "title", "url", "stable_url", "score", "reason"],
              "properties": {"rank": {"type": "integer"}, "article_id": {"type": "string"}, "title": {"type": "string"},
                             "type": {"type": "string"}, "service_area": {"type": "string"}, "anchor": {"type": "string"},
                             "heading": {"type": "string"}, "url": {"type": "string"}, "stable_url": {"type": "string"},
                             "score": {"type": "number"}, "snippet": {"type": "string"},
                             "reason": {"type": "object", "properties": {
                                 "identifiers": {"type": "array", "items": {"type": "string"}},
                                 "lanes": {"type": "array", "items": {"type": "string"}},
                                 "sentence": {"type": "string"}}}}}
# not blank as Python's str.strip sees it (which, unlike a JSON-schema \s, also strips U+001C–U+001F and U+0085)
NOT_SPACE = "[^\\s\\u001c-\\u001f\\u0085]"
SHORT = {"type": "string", "minLength": 1, "maxLength": 128,
         "pattern": "^[^\\u0000]*[^\\s\\u001c-\\u001f\\u0085\\u0000][^\\u0000]*$"}  # not blank, no NUL
NO_NUL = "^[^\\u0000]*$"   # PostgreSQL text cannot hold NUL: refused with 400
# ticket ids and agents: no control, format (zero-width, bidi) or surrogate character; stored canonical (NFKC, stripped)
TICKET_ID = {"type": "string", "minLength": 1, "maxLength": 128,
             "pattern": f"^[^{REFUSED_CLASS}]*[^\\s{REFUSED_CLASS}][^{REFUSED_CLASS}]*$"}
AGENT = {"type": "string", "maxLength": 128, "nullable": True, "pattern": f"^[^{REFUSED_CLASS}]*$"}
BEARER = [{"bearer": []}]
FORBIDDEN = "Not allowed: the caller lacks the scope, or a cookie-signed write lacks X-CSRF-Token"
CROSS_SITE = "a cross-site request (Sec-Fetch-Site other than same-origin/none, or another Origin)"


PUBLIC_PATHS = ("/healthz", "/readyz")


def spec(areas: list[str] | None = None) -> dict:
    """The OpenAPI document; every path but the health probes may answer 401 and 403 (the policy point)."""
    from search.service.feedback.openapi import paths as feedback_paths
    from search.service.gaps.openapi import paths as gaps_paths

    doc = _spec(areas)
    common = {"400": _err("Invalid parameter or body (the message names it)"),
              "429": _err("Rate limited; see Retry-After"), "503": _err("Index not loaded or database busy; see Retry-After")}
    writes = {"403": _err(FORBIDDEN + ", or " + CROSS_SITE), "413": _err("Body larger than 64 KB"),
              "415": _err("Content-Type is not application/json")}
    doc["paths"].update(feedback_paths(common, writes, TICKET_ID, SHORT))
    doc["paths"].update(gaps_paths(common))
    for path, operations in doc["paths"].items():
        for operation in operations.values():
            if path not in PUBLIC_PATHS:
                operation["responses"].setdefault("401", _err("No login or token, or a wrong, revoked or expired token"))
                operation["responses"].setdefault("403", _err("The caller lacks the scope this needs (docs/security.md)"))
    return doc


def _spec(areas: list[str] | None) -> dict:
    """The document; ``areas`` are the service areas of the served index (the ``area`` enum)."""
    common = {"400": _err("Invalid parameter or body (the message names it)"),
              "429": _err("Rate limited; see Retry-After"), "503": _err("Index not loaded or database busy; see Retry-After")}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Video support KB search API", "version": "1"},
        "components": {
            "schemas": {"Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}}},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": {
            "/api/search": {"get": {
                "summary": "Hybrid section-level search", "parameters": [
                    _q("q", {"type": "string", "minLength": 1, "maxLength": 512, "pattern": NOT_SPACE}, "Query text or identifier", True),
                    _q("area", {"type": "string", "enum": ["", *areas]} if areas else {"type": "string"},
                       "Service area filter (areas of the served index; empty = all)"),
                    _q("type", {"type": "string", "enum": ["", "runbook", "faq", "reference"]},
                       "Article type filter (empty = all)"),
                    _q("tag", {"type": "string"}, "Tag filter (no match gives no results)"),
                    _q("k", {"type": "integer", "minimum": 1, "maximum": 50, "default": 10}, "Articles to return"),
                    _q("mode", {"type": "string", "enum": ["hybrid", "dense", "lexical"], "default": "hybrid"}, "Lanes")],
                "responses": {"200": _json(SEARCH), **common}}},
            "/api/suggest": {"post": {
                "summary": "Suggest sections for a pasted ticket, with reasons; the suggestion is recorded",
                "parameters": [_q("k", {"type": "integer", "minimum": 1, "maximum": 50, "default": 5}, "Suggestions")],
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": {"type": "object", "required": ["body"], "properties": {
                        "ticket_id": dict(TICKET_ID, nullable=True), "subject": {"type": "string", "maxLength": 1000, "nullable": True},
                        "body": {"type": "string", "minLength": 1, "maxLength": 20000, "pattern": NOT_SPACE}}}}}},
                "responses": {"200": _json({"type": "object", "required": ["request_id", "confident", "suggestions", "cleaned"],
                                            "properties": {"request_id": {"type": "string"},
                                                           "ticket_id": {"type": "string", "nullable": True},
                                                           "confident": {"type": "boolean"},
                                                           "no_confident_match": {"type": "boolean"},
                                                           "cleaned": OBJ, "build_id": {"type": "string"},
                                                           "suggestions": {"type": "array", "items": SUGGESTION}}}),
                              "403": _err(CROSS_SITE), "413": _err("Body larger than 64 KB"),
                              "415": _err("Content-Type is not application/json"), **common}}},
            "/api/articles/{article_id}": {"get": {
                "summary": "Article metadata, sections and the number of linked tickets",
                "parameters": [{"name": "article_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": _json(OBJ), "404": _err("Unknown article id"), "429": common["429"],
                              "503": common["503"]}}},
            "/api/links": {
                "get": {"summary": "Links of a ticket and/or an article (oldest first); without either, the newest links",
                        "parameters": [
                    _q("ticket_id", {"type": "string", "pattern": NO_NUL},
                       "Ticket id, canonicalised like a stored one (an id that cannot be stored has no links)"),
                    _q("article_id", {"type": "string", "pattern": NO_NUL}, "Article id"),
                    _q("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}, "At most this many")],
                    "responses": {"200": _json({"type": "object", "required": ["links"], "properties": {
                        "links": {"type": "array", "items": LINK}}}), "400": common["400"], "429": common["429"],
                        "503": common["503"]}},
                "post": {"summary": "Link an article (section) to a ticket; idempotent on (ticket_id, article_id, anchor)",
                         "security": BEARER,
                         "requestBody": {"required": True, "content": {"application/json": {"schema": {
                             "type": "object", "required": ["ticket_id", "article_id"], "properties": {
                                 "ticket_id": TICKET_ID, "article_id": SHORT,
                                 "anchor": {"type": "string", "maxLength": 128, "nullable": True, "pattern": NO_NUL},
                                 "source": {"type": "string", "enum": ["suggested", "searched", "manual"], "nullable": True},
                                 "agent": dict(AGENT, deprecated=True,
                                               description="ignored: the link's agent is the authenticated caller")}}}}},
                         "responses": {"201": _json(LINK, "Created"), "200": _json(LINK, "Already linked"),
                                       "400": common["400"], "401": _err("Missing or wrong bearer token"),
                                       "403": _err(FORBIDDEN + ", or " + CROSS_SITE),
                                       "404": _err("Unknown article id"), "413": _err("Body larger than 64 KB"),
                                       "415": _err("Content-Type is not application/json"), "429": common["429"],
                                       "503": common["503"]}}},
            "/api/links/{link_id}": {"delete": {
                "summary": "Delete a link", "security": BEARER,
                "parameters": [{"name": "link_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "responses": {"204": {"description": "Deleted"}, "401": _err("Missing or wrong bearer token"),
                              "403": _err(FORBIDDEN + ", or " + CROSS_SITE), "404": _err("Unknown link id"),
                              "429": common["429"], "503": common["503"]}}},
            "/api/tickets/{ticket_id}": {"delete": {
                "summary": "Erase everything stored about a ticket (scope admin; audited without the id)",
                "security": BEARER,
                "parameters": [{"name": "ticket_id", "in": "path", "required": True,
                                "schema": {"type": "string", "maxLength": 128}}],
                "responses": {"200": _json({"type": "object", "required": ["erased"], "properties": {"erased": {
                                  "type": "object", "properties": {k: {"type": "integer"} for k in
                                                                   ("links", "suggestions", "suggested_tickets",
                                                                    "feedback")}}}}),
                              "400": common["400"], "401": _err("Missing or wrong bearer token"),
                              "403": _err("Not allowed: erasure needs the scope admin"), "429": common["429"],
                              "503": common["503"]}}},
            "/api/reports": {"get": {"summary": "Articles that resolve tickets, suggestion uptake per day, knowledge gaps",
                                     "responses": {"200": _json(OBJ), "429": common["429"], "503": common["503"]}}},
            "/healthz": {"get": {"summary": "Process alive", "responses": {"200": _json(OBJ), "429": common["429"]}}},
            "/readyz": {"get": {"summary": "Index loaded and database reachable",
                                "responses": {"200": _json(READY), "429": common["429"],
                                              "503": _err("Not ready (the message says why)")}}},
            "/api/openapi.json": {"get": {"summary": "This document", "responses": {"200": _json(OBJ), "429": common["429"]}}},
        },
    }
