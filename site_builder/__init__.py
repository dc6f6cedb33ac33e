"""Site builder: the MkDocs plugin that validates, enriches and exports the knowledge base.

Boundary rule: this package may import mkdocs, markdown and yaml (plus the standard library).
It must not import ``search``, flask, torch or faiss. Nothing here knows how search works; the
only thing the search side receives is the corpus export (contract 1, ``kb-corpus.json``).
"""
