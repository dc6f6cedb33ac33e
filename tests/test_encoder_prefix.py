"""The ONNX encoder tokenizes a long text from a prefix when the prefix already fills the model's
256-token window (issue 17: tokenizing all of a 20,000-character ticket only to keep 256 tokens
was a sixth of the most expensive request). The shortcut must be exact: the same token ids as
tokenizing the whole text, for prose, hostile text and the seams between them."""
from __future__ import annotations

import json
import types

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer

from search.encoder import MAX_SEQ_LENGTH, PREFIX_CHARS, OnnxEncoder, resolve_model
from tests.conftest import ROOT

TOKENIZER = Tokenizer.from_file(str(resolve_model("all-MiniLM-L6-v2").path / "tokenizer.json"))
TOKENIZER.enable_truncation(MAX_SEQ_LENGTH)
TOKENIZER.no_padding()
ENCODER = types.SimpleNamespace(tokenizer=TOKENIZER, max_tokens=MAX_SEQ_LENGTH)   # what _encodings needs
PROSE = " ".join(json.loads(line)["text"] for line in (ROOT / "eval" / "tickets.jsonl").open(encoding="utf-8"))
PIECES = ["a", "A", " ", "\n", ".", "_", "é", "e\u0301", "\u0301", "中", "©", "\u200b", "\x00", "🙂", "-", "x" * 120,
          "fragLoadError", "ERR_HLS_403"]


def _ids(text: str) -> list[int]:
    return OnnxEncoder._encodings(ENCODER, [text])[0].ids


@settings(derandomize=True, database=None, deadline=None, max_examples=150,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(start=st.integers(0, len(PROSE) - 20000), prose=st.integers(0, 20000),
       piece=st.sampled_from(PIECES), count=st.integers(0, 6000), at=st.integers(0, PREFIX_CHARS + 200))
def test_prefix_tokenization_equals_whole_text_tokenization(start, prose, piece, count, at):
    text = PROSE[start:start + prose]
    text = text[:at] + piece * count + text[at:]          # hostile run anywhere, often across the cut
    assert _ids(text) == TOKENIZER.encode(text).ids


def test_long_ticket_is_cut_and_short_text_is_whole():
    assert len(_ids(PROSE[:20000])) == MAX_SEQ_LENGTH
    assert _ids("hls fragLoadError 403") == TOKENIZER.encode("hls fragLoadError 403").ids
    assert _ids("x" * 30000) == TOKENIZER.encode("x" * 30000).ids   # one 30,000-character word: no split point


def _word_across_the_cut(word_unit: str, before_cut: int, length: int) -> str:
    """Prose of 240 tokens, spaces up to ``before_cut`` characters before the cut, then one word of
    ``length`` characters across it, then more prose: the prefix's window is filled inside that
    word, which the prefix sees shorter than it is."""
    end = TOKENIZER.encode(PROSE[:4000]).offsets[240][1]
    head = PROSE[:end].ljust(PREFIX_CHARS - before_cut)
    return head + (word_unit * length)[:length] + " " + PROSE[end:end + 2000]


def test_a_word_across_the_cut_is_tokenized_whole():
    """A word of more than 100 characters is one [UNK] token, shorter ones are word pieces: cutting
    inside such a word would change the tokens; the encoder must notice and tokenize the whole text
    (also when the word holds symbols that are not split points, such as ©)."""
    for unit in ("qx", "qx©", "e\u0301z"):
        for before_cut in (1, 20, 60, 99):
            for length in (before_cut + 5, 150, 400):
                text = _word_across_the_cut(unit, before_cut, length)
                assert _ids(text) == TOKENIZER.encode(text).ids, (unit, before_cut, length)


def test_queries_read_128_tokens_and_sections_256(real_settings):
    """Issue 17: a query's embedding reads its first QUERY_MAX_TOKENS (128, the length the model was
    trained on); the index keeps the chunker's 256. Before, every 20,000-character ticket paid for a
    full 256-token window (≈ 2.7× the cost), which made it the most expensive request."""
    from pathlib import Path

    import numpy as np

    from search.encoder import QUERY_MAX_TOKENS, make_encoder

    data = Path(real_settings.data_dir)
    query = make_encoder(real_settings.model, "onnx", data, "query")
    index = make_encoder(real_settings.model, "onnx", data, "index")
    assert (query.max_tokens, index.max_tokens) == (QUERY_MAX_TOKENS, MAX_SEQ_LENGTH) == (128, 256)
    long_text = PROSE[:20000]
    assert len(query._encodings([long_text])[0].ids) == 128
    assert len(index._encodings([long_text])[0].ids) == 256
    head = TOKENIZER.decode(TOKENIZER.encode(long_text).ids[1:127])   # the 126 content tokens a query keeps
    same = query.encode([long_text, head])
    assert float(np.dot(same[0], same[1])) > 0.99   # the tail beyond 128 tokens is not read
