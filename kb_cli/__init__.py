"""The ``kb`` command line: parses options, loads settings, calls the factories.

Boundary rule: may import everything, but heavy modules (mkdocs, torch, faiss, flask) only inside
the command that needs them, so ``kb build`` never loads torch or faiss.
"""
