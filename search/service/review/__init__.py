"""Review work for article owners: each owner's queue of open flags, "not helpful" votes and articles
whose review is due, most urgent first.

Boundary rule: ``queue.py`` is a pure function over article metadata and feedback rows (no Flask,
no database); ``views.py`` is the blueprint (``GET /api/review``), ``kb review`` the CLI over the
same function. Access is the policy point's business (scope ``review``).
"""
