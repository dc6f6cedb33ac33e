"""Who is calling, and may they: API tokens (``tokens``), the audit trail (``audit``).

Boundary rule: identity and access live here and nowhere else; views never check credentials
themselves. Storage goes through ``search.service.db``.
"""
