"""The lexical tokenizer and identifier extraction keep codes whole and index their parts."""
from __future__ import annotations

import re

import pytest

from search import identifiers
from search.ident_index import _trie_pattern
from search.lexical_tokens import tokenize


@pytest.mark.parametrize("text, whole, parts", [
    ("fragLoadError", "fragloaderror", {"frag", "load", "error"}),
    ("ERR_HLS_403", "err_hls_403", {"err", "hls", "403"}),
    ("avc1.64001f", "avc1.64001f", {"avc1", "64001f"}),
    ("-12660", "-12660", {"12660"}),
    ("EXT-X-TARGETDURATION", "ext-x-targetduration", {"ext", "x", "targetdur"}),
    ("ERROR_CODE_BEHIND_LIVE_WINDOW", "error_code_behind_live_window", {"live", "window", "behind"}),
])
def test_identifiers_whole_and_parts(text, whole, parts):
    tokens = tokenize(f"the player said {text} twice")
    assert whole in tokens
    assert parts <= set(tokens), tokens


def test_plain_words_are_stemmed_and_stopwords_dropped():
    assert tokenize("The videos are buffering") == ["video", "buffer"]


def test_dash_as_punctuation_is_not_a_negative_code():
    assert "-foo" not in tokenize("retry - foo")


@pytest.mark.parametrize("text, key", [
    ("HTTP/1.1 416 Range Not Satisfiable", "http 416"),
    ("got a 403 Forbidden from the CDN", "http 403"),
    ("status code: 429", "http 429"),
    ("hls.js fragLoadError fatal", "fragloaderror"),
    ("AVPlayer error -12660", "-12660"),
    ("#EXT-X-TARGETDURATION:6", "ext-x-targetduration"),
    ("codecs=\"avc1.64001f,mp4a.40.2\"", "avc1.64001f"),
    ("Alert CDNEdge5xxRateHigh fired", "cdnedge5xxratehigh"),
])
def test_extract_finds_identifiers(text, key):
    assert key in identifiers.extract(text)


def test_normalize_unifies_http_forms():
    assert identifiers.normalize("HTTP 416") == identifiers.normalize("http/1.1 416") == "http 416"


def test_strong_identifiers():
    assert identifiers.is_strong("err_hls_403") and identifiers.is_strong("http 416")
    assert not identifiers.is_strong("http 200") and not identifiers.is_strong("youtube")


def test_declared_trie_pattern_matches_like_the_longest_first_alternation():
    keys = ["503 slow down", "503 slow", "latency_mode", "latency", "err_x", "err_x_2", "ab-c"]
    alternation = "(?:" + "|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True)) + ")"
    text = ("got 503 slow down, then 503 slowly 503 slow; latency_mode=1 latency err_x_2 err_x_3 err_x "
            "ab-c ab-cd xlatency")
    for pattern in (_trie_pattern(keys), alternation):
        assert re.findall(r"(?<![\w.-])" + pattern + r"(?![\w-])", text) == \
            ["503 slow down", "503 slow", "latency_mode", "latency", "err_x_2", "err_x", "ab-c"]
