"""The OpenAPI path of the gaps report, merged into the service's document (openapi.py)."""
from __future__ import annotations

from search.service.gaps.normalise import MAX_AREA
from search.service.gaps.report import DEFAULT_DAYS, MAX_DAYS

QUERY = {"type": "object", "required": ["kind", "query", "area", "requests", "no_confident_match", "days",
                                        "callers_at_least"],
         "properties": {"kind": {"type": "string", "enum": ["search", "suggest"]},
                        "query": {"type": "string", "description": "normalised and redacted; suggest: the ticket's identifiers"},
                        "area": {"type": "string"}, "requests": {"type": "integer"},
                        "no_confident_match": {"type": "integer"}, "days": {"type": "integer"},
                        "callers_at_least": {"type": "integer"},
                        "top_article": {"type": "string", "nullable": True},
                        "undeclared_identifiers": {"type": "array", "items": {"type": "string"}}}}
BODY = {"type": "object", "required": ["days", "since", "min_callers", "recording", "dropped_requests", "gaps",
                                       "top_queries"],
        "properties": {"days": {"type": "integer"}, "since": {"type": "string"}, "area": {"type": "string", "nullable": True},
                       "min_callers": {"type": "integer"}, "recording": {"type": "boolean"},
                       "dropped_requests": {"type": "integer"},
                       "gaps": {"type": "array", "items": {"type": "object", "required": ["area", "queries"], "properties": {
                           "area": {"type": "string"}, "queries": {"type": "array", "items": QUERY}}}},
                       "top_queries": {"type": "array", "items": QUERY}}}


def paths(common: dict) -> dict:
    return {"/api/gaps": {"get": {
        "summary": "Knowledge gaps: frequent queries that ended in 'no confident match', by area, and the top "
                   "confident queries; only queries asked by at least gaps_min_callers callers on one day "
                   "(scopes review and internal; audited as export.gaps)",
        "parameters": [
            {"name": "days", "in": "query", "required": False, "description": "The last N UTC days",
             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_DAYS, "default": DEFAULT_DAYS}},
            {"name": "area", "in": "query", "required": False, "description": "Only this service area",
             "schema": {"type": "string", "maxLength": MAX_AREA, "pattern": "^[^\\u0000-\\u001f\\u007f]*$"}}],
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": BODY}}}, **common}}}}
