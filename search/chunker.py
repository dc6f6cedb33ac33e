"""Sections → chunks. One chunk per section; long sections are split with overlap so the
model's 256-token window never silently cuts text. The embedded text carries the article title
and heading path, so a short section ("Cause") still means something on its own.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from search.corpus import Article, Corpus

CHUNKER_VERSION = "3"
MAX_TOKENS = 256          # all-MiniLM-L6-v2 max_seq_length, including [CLS]/[SEP]
OVERLAP_TOKENS = 48
SENTENCE_RE = re.compile(r"(?<=[.!?])\s+|\n+")

TokenCounter = Callable[[str], int]


@dataclass(frozen=True)
class Chunk:
    chunk_id: str          # "<article id>#<anchor>#<part>"
    article_id: str
    anchor: str
    heading: str
    heading_path: tuple[str, ...]
    part: int
    text: str              # the section text of this chunk (for snippets and BM25)
    embed_text: str        # title > heading path + text (what the model sees)

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.embed_text.encode("utf-8")).hexdigest()


def _header(article: Article, path: tuple[str, ...]) -> str:
    return " > ".join((article.title,) + path)


def _pieces(text: str, count: TokenCounter, budget: int) -> list[str]:
    """Split text into sentence-ish pieces, each within ``budget`` tokens (long ones by words)."""
    out = []
    for sentence in (s.strip() for s in SENTENCE_RE.split(text)):
        if not sentence:
            continue
        if count(sentence) <= budget:
            out.append(sentence)
            continue
        words, current = sentence.split(), []
        for word in words:
            if current and count(" ".join(current + [word])) > budget:
                out.append(" ".join(current))
                current = []
            current.append(word)
        if current:
            out.append(" ".join(current))
    return out


def split_text(text: str, count: TokenCounter, budget: int, overlap: int = OVERLAP_TOKENS) -> list[str]:
    """Greedy windows of whole pieces within ``budget`` tokens; each window repeats the last
    ~``overlap`` tokens of the previous one, so a sentence cut at a boundary appears whole once."""
    pieces = _pieces(text, count, budget)
    windows: list[list[str]] = []
    current: list[str] = []
    for piece in pieces:
        if current and count(" ".join(current + [piece])) > budget:
            windows.append(current)
            tail: list[str] = []
            for prev in reversed(current):
                if count(" ".join([prev] + tail + [piece])) > budget or count(" ".join([prev] + tail)) > overlap:
                    break
                tail.insert(0, prev)
            current = tail
        current.append(piece)
    if current or not windows:
        windows.append(current)
    return [" ".join(w) for w in windows]


def chunk_article(article: Article, count: TokenCounter, max_tokens: int = MAX_TOKENS) -> list[Chunk]:
    """All chunks of one article, in page order."""
    chunks = []
    parents: dict[int, str] = {}
    for section in article.sections:
        parents = {lvl: h for lvl, h in parents.items() if lvl < section.level}
        path = tuple(parents[lvl] for lvl in sorted(parents)) + ((section.heading,) if section.anchor else ())
        if section.anchor:
            parents[section.level] = section.heading
        header = _header(article, path)
        budget = max_tokens - count(header) - 4  # room for special tokens and the newline
        texts = split_text(section.text, count, max(budget, 32)) if section.text else [""]
        for part, text in enumerate(texts):
            chunks.append(Chunk(f"{article.id}#{section.anchor}#{part}", article.id, section.anchor,
                                section.heading, path, part, text, f"{header}\n{text}".strip()))
    return chunks


def chunk_corpus(corpus: Corpus, count: TokenCounter, max_tokens: int = MAX_TOKENS) -> list[Chunk]:
    return [c for a in corpus.articles for c in chunk_article(a, count, max_tokens)]
