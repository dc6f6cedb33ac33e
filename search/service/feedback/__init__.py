"""Feedback and flags on articles: "Helpful / Not helpful" votes and "Flag this section" (outdated,
wrong, unclear, missing step), from article pages and the ticket assistant.

Boundary rule: ``store.py`` holds plain functions over the service database (``search.service.db``
tables, no Flask); ``views.py`` is the blueprint, thin over them. Neither checks credentials: the
policy point (``search.service.auth.policy``) authorises and audits every request.
"""
