"""The OpenAPI paths of feedback and the review queue, merged into the service's document (openapi.py)."""
from __future__ import annotations


def _err(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _json(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _q(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


TEXT = {"type": "string", "nullable": True}
ITEM = {"type": "object", "required": ["id", "article_id", "anchor", "kind", "comment", "source", "author", "status",
                                       "created_at"],
        "properties": {"id": {"type": "integer"}, "article_id": {"type": "string"}, "anchor": {"type": "string"},
                       "kind": {"type": "string", "enum": ["helpful", "not_helpful", "flag"]},
                       "reason": {"type": "string", "nullable": True,
                                  "enum": ["outdated", "wrong", "unclear", "missing_step", None]},
                       "comment": {"type": "string", "description": "redacted before it was stored"},
                       "ticket_id": TEXT, "source": {"type": "string", "enum": ["article", "assistant"]},
                       "author": {"type": "string"}, "status": {"type": "string", "enum": ["open", "resolved", "info"]},
                       "created_at": {"type": "string"}, "resolved_at": TEXT, "resolved_by": TEXT}}
ENTRY = {"type": "object", "required": ["article_id", "title", "owner", "urgency", "overdue_days", "flags", "not_helpful"],
         "properties": {"article_id": {"type": "string"}, "title": {"type": "string"}, "url": {"type": "string"},
                        "owner": {"type": "string"}, "review_due": TEXT, "overdue_days": {"type": "integer"},
                        "urgency": {"type": "integer"}, "votes": {"type": "object"},
                        "flags": {"type": "array", "items": ITEM}, "not_helpful": {"type": "array", "items": ITEM}}}


def paths(common: dict, write_errors: dict, ticket_id: dict, short: dict) -> dict:
    """``common``: the shared 400/429/503 responses; ``write_errors``: 401/403/413/415 of a JSON write."""
    body = {"type": "object", "required": ["article_id", "kind"], "properties": {
        "article_id": short, "kind": {"type": "string", "enum": ["helpful", "not_helpful", "flag"]},
        "anchor": {"type": "string", "maxLength": 128, "nullable": True},
        "reason": {"type": "string", "enum": ["outdated", "wrong", "unclear", "missing_step"], "nullable": True,
                   "description": "required for a flag, refused otherwise"},
        "comment": {"type": "string", "maxLength": 1000, "nullable": True},
        "ticket_id": dict(ticket_id, nullable=True), "source": {"type": "string", "enum": ["article", "assistant"]}}}
    return {
        "/api/feedback": {
            "post": {"summary": "A vote (helpful / not helpful) or a flag on an article or section (scope feedback:write)",
                     "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
                     "responses": {"201": _json(ITEM, "Stored"), "200": _json(ITEM, "The same vote is already on record"),
                                   "404": _err("Unknown article id (or one the caller may not see)"),
                                   **write_errors, **common}},
            "get": {"summary": "Feedback, newest first (scopes review and internal)", "parameters": [
                _q("status", {"type": "string", "enum": ["open", "resolved", "info", "all"], "default": "open"}, "Status"),
                _q("owner", {"type": "string"}, "Only articles of this owner (front matter 'owner')"),
                _q("article_id", {"type": "string"}, "Only this article"),
                _q("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}, "At most this many")],
                "responses": {"200": _json({"type": "object", "required": ["feedback"], "properties": {
                    "feedback": {"type": "array", "items": ITEM}}}), **common}}},
        "/api/feedback/{feedback_id}/resolve": {"post": {
            "summary": "Resolve an open flag or 'not helpful' vote (scopes review and internal; audited)",
            "parameters": [{"name": "feedback_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
            "responses": {"200": _json(ITEM), "404": _err("Unknown feedback id"),
                          "409": _err("A helpful vote: nothing to resolve"), **write_errors, **common}}},
        "/api/review": {"get": {
            "summary": "An owner's review queue, most urgent first (scopes review and internal)",
            "parameters": [_q("owner", {"type": "string"}, "The owning team; empty = every owner")],
            "responses": {"200": _json({"type": "object", "required": ["today", "articles"], "properties": {
                "owner": TEXT, "today": {"type": "string"}, "articles": {"type": "array", "items": ENTRY}}}),
                **common}}},
        "/api/review/usage": {"get": {
            "summary": "The report's figures without ticket ids, for the staff dashboard (scopes review and internal)",
            "responses": {"200": _json({"type": "object", "required": ["suggestion_requests", "days", "top_articles"]}),
                          **common}}},
    }
