"""Search core: corpus export → chunks → encoder → dense / lexical / identifier lanes → fusion.

Boundary rule: this package (outside ``search/service/``) may import numpy, faiss, bm25s and,
in the encoder module only, sentence-transformers/torch/onnxruntime. It must not import flask,
mkdocs or ``site_builder``: it reads the corpus export file, never Markdown.
"""
