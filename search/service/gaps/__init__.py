"""Search analytics and knowledge gaps: what people look for and do not find.

``GET /api/search`` and ``POST /api/suggest`` each add one request to a per-day aggregate of the
redacted, normalised query (for a ticket: only the identifiers found, never its text), its service
area, the mode, whether the answer was confident and its top article (``records.py``). The gaps
report (``report.py``) lists the most frequent queries that ended in "no confident match", and the
top confident queries, showing a query only when at least ``gaps_min_callers`` distinct callers
asked it on one day.

Boundary rule: ``normalise.py`` and ``report.py`` are pure (no Flask, no database); ``records.py``
is mixed into the links store (its transactions, one write per request); ``views.py`` is the
blueprint (``GET /api/gaps``, scope ``review``), ``kb gaps`` the CLI over the same functions.
"""
