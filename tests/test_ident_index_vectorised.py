"""The vectorised identifier lane (issue 17) returns exactly what the per-pair Python loop it
replaced returned: the same chunks, the same summed weights (up to float rounding), the same names;
and BM25 with repeated query tokens scores like summing each occurrence."""
from __future__ import annotations

import json
import math
import random
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from search import identifiers
from search.chunker import chunk_corpus
from search.corpus import load_corpus
from search.ident_index import IdentifierIndex, IdentifierMatch
from search.identifier_filters import not_identifier, without_frames
from search.lexical import LexicalIndex
from search.ticket import ticket_query

ROOT = Path(__file__).resolve().parent.parent


def reference_match(index: IdentifierIndex, text: str, skip=None) -> dict[int, IdentifierMatch]:
    """The implementation before issue 17's vectorisation, verbatim."""
    spans = identifiers.extract(text)
    numbers = identifiers.numbers(text)
    if skip is not None:
        spans = {key for key in spans if not skip(key)}
    hits: dict[int, IdentifierMatch] = defaultdict(IdentifierMatch)
    for key in spans | numbers | index.declared_in(text):
        if skip is not None and skip(key):
            continue
        for i in index.declared.get(key, ()):
            hits[i].declared += index.weight[key]
            hits[i].names.add(key)
    for key in spans:
        for i in index.found.get(key, ()):
            hits[i].found += index.weight[key]
            hits[i].names.add(key)
    return dict(hits)


def assert_same(index: IdentifierIndex, text: str, skip=None, allowed: np.ndarray | None = None) -> int:
    expected = reference_match(index, text, skip)
    got = index.match(text, skip)
    if allowed is not None:
        ok = set(allowed.tolist())
        expected = {i: m for i, m in expected.items() if i in ok}
        got = got.restrict(allowed)
    assert sorted(got) == sorted(expected) == got.chunks.tolist()
    assert got.matched_keys == set().union(*(m.names for m in expected.values()))
    got.prepare(list(expected)[::2] + [-1, 10**6])   # half in one batch (and chunks out of range), half one by one
    assert -1 not in got and 10**6 not in got and "x" not in got
    for i, want in expected.items():
        have = got[i]
        assert have.names == want.names
        assert math.isclose(have.declared, want.declared, rel_tol=1e-12)
        assert math.isclose(have.found, want.found, rel_tol=1e-12)
    strong = got.strong(identifiers.is_strong)
    assert strong.tolist() == [any(identifiers.is_strong(n) for n in expected[i].names) for i in got.chunks.tolist()]
    return len(expected)


@pytest.fixture(scope="module")
def fixture_index(fixture_site: Path) -> IdentifierIndex:
    corpus = load_corpus(fixture_site / "kb-corpus.json")
    chunks = chunk_corpus(corpus, lambda text: len(text.split()))
    return IdentifierIndex.from_json(json.loads(json.dumps(IdentifierIndex.build(chunks, list(corpus.articles)).to_json())))


def test_same_hits_as_the_loop_on_the_fixture_kb_for_every_ticket(fixture_index):
    tickets = [json.loads(line) for line in (ROOT / "eval" / "tickets.jsonl").read_text(encoding="utf-8").splitlines()]
    everything = " ".join(fixture_index.display.values())   # every declared code and found identifier
    matched = 0
    for text in [ticket_query(t["text"]).query for t in tickets] + [everything, "", "no identifiers here"]:
        text = without_frames(text)
        matched += assert_same(fixture_index, text, not_identifier(text, fixture_index.declared))
    assert matched > 0
    size = fixture_index._arrays[2]
    assert_same(fixture_index, everything, None, np.arange(0, size, 3))
    assert_same(fixture_index, everything, None, np.zeros(0, dtype=np.int64))


def test_same_hits_as_the_loop_on_random_indexes(fixture_index):
    pool = sorted(fixture_index.display.items())
    rng = random.Random(17)
    for _ in range(30):
        chunks = rng.randint(1, 400)
        keys = rng.sample(pool, rng.randint(1, len(pool)))
        declared = {k: sorted(rng.sample(range(chunks), rng.randint(0, chunks))) for k, _ in keys if rng.random() < 0.5}
        found = {k: sorted(rng.sample(range(chunks), rng.randint(1, min(chunks, 20)))) for k, _ in keys
                 if rng.random() < 0.5}
        weight = {k: rng.uniform(0.01, 1.0) for k, _ in keys}
        index = IdentifierIndex(declared, found, {k: d for k, d in keys}, weight)
        text = " ".join(d for _, d in rng.sample(pool, rng.randint(0, len(pool))))
        assert_same(index, text, (lambda key: key in keys[:3]) if rng.random() < 0.3 else None)
        assert_same(index, text, None, np.array(sorted(rng.sample(range(chunks), rng.randint(0, chunks)))))


def test_bm25_counts_a_repeated_token_once_times_its_count():
    index = LexicalIndex.build([["a", "b"], ["a", "a", "c"], ["b", "c", "c", "d"], ["e"]])
    query = ["a"] * 7 + ["c", "zzz", "c", "b"]
    expected = np.zeros(index.num_docs, dtype=np.float64)
    for token in query:
        if token in index.vocab:
            p = slice(index.indptr[index.vocab[token]], index.indptr[index.vocab[token] + 1])
            np.add.at(expected, index.indices[p], index.data[p].astype(np.float64))
    got = index.scores(query)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert got[3] == 0 and index.scores(["zzz"]).tolist() == [0.0] * 4
