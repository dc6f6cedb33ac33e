"""A deterministic stand-in encoder for fast plumbing tests (never shipped, never used in eval)."""
from __future__ import annotations

import hashlib
import re
import time

import numpy as np


class FakeEncoder:
    """Hashed bag of words → 32-dim unit vectors. ``delay`` slows every batch (kill tests)."""

    backend = "fake"

    def __init__(self, dim: int = 32, delay: float = 0.0):
        self.dim = dim
        self.delay = delay
        self.calls = 0
        self.texts = 0

    def count_tokens(self, text: str) -> int:
        return len(text.split()) + 2

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        self.calls += 1
        self.texts += len(texts)
        if self.delay:
            time.sleep(self.delay)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms
