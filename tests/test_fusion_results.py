"""Fusion, grouping and snippet functions: pure, no model."""
from __future__ import annotations

import html
import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from search import fusion
from search.results import best_window, group_by_article, highlight, promote, query_terms, snippet


def aligned(*lanes: dict[int, float]) -> tuple[list[int], list[np.ndarray]]:
    """Lanes given as {chunk: score} as fusion takes them: arrays over the sorted union of chunks."""
    chunks = sorted(set().union(*lanes))
    return chunks, [np.array([lane.get(c, np.nan) for c in chunks]) for lane in lanes]


def best(chunks: list[int], fused: np.ndarray) -> int:
    return chunks[int(np.argmax(fused))]


def test_rrf_rewards_agreement_and_respects_weights():
    chunks, (dense, lexical) = aligned({1: 0.9, 2: 0.8, 3: 0.1}, {2: 12.0, 3: 11.0, 4: 1.0})
    assert best(chunks, fusion.rrf([dense, lexical], [0.5, 0.5], k=60)) == 2     # ranked high by both lanes
    assert best(chunks, fusion.rrf([dense, lexical], [1.0, 0.0], k=60)) == 1
    assert fusion.rrf([dense, lexical], [1.0, 0.0], k=60)[3] == 0.0              # chunk 4: not a dense result


def test_ranks_break_ties_by_position_and_skip_missing():
    np.testing.assert_array_equal(fusion.ranks(np.array([2.0, np.nan, 5.0, 2.0])), [2.0, np.nan, 1.0, 3.0])


def test_minmax_and_distribution_scale_into_unit_interval():
    np.testing.assert_array_equal(fusion.minmax(np.array([5.0, 10.0, 7.5])), [0.0, 1.0, 0.5])
    np.testing.assert_array_equal(fusion.minmax(np.array([3.0, np.nan])), [1.0, np.nan])
    assert np.isnan(fusion.minmax(np.full(2, np.nan))).all()                    # a lane with no results
    scaled = fusion.distribution(np.arange(20.0))
    assert ((0.0 <= scaled) & (scaled <= 1.0)).all()
    assert scaled[19] > scaled[10] > scaled[0]


def test_convex_gives_a_chunk_missing_from_a_lane_zero_there():
    _, (dense, lexical) = aligned({1: 0.2, 2: 0.6, 3: 1.0}, {1: 4.0, 2: 8.0})
    np.testing.assert_allclose(fusion.convex(dense, lexical, 0.6), [0.0, 0.6 * 0.5 + 0.4, 0.6])


def test_distribution_fusion_lets_a_confident_lane_win():
    # The lexical lane has one hit far above its others; the dense lane is flat.
    chunks, (dense, lexical) = aligned({i: 0.50 + 0.001 * i for i in range(30)},
                                       {7: 30.0, **{i: 2.0 for i in range(10, 30)}})
    assert best(chunks, fusion.dbsf(dense, lexical, 0.5)) == 7
    assert best(chunks, fusion.convex(dense, lexical, 0.5)) == 7
    assert best(chunks, fusion.adaptive(dense, lexical, 0.5)) == 7


def test_confidence_weight_follows_the_surer_lane():
    dense, lexical = np.array([0.9, 0.5, np.nan]), np.array([np.nan, 6.0, 2.0])
    # lexical best 6 of a reachable 30 (c_l 0.2) vs cosine 0.9: dense weight 0.6·0.9 / (0.54 + 0.4·0.2)
    assert fusion.confidence_weight(dense, lexical, 0.6, 30.0) == pytest.approx(0.54 / 0.62)
    # the query's tokens scored as high as they can (c_l 1): lexical weight rises
    assert fusion.confidence_weight(dense, lexical, 0.6, 6.0) == pytest.approx(0.54 / 0.94)
    # no lexical evidence (no ceiling, or no lexical results): all weight on the dense lane
    assert fusion.confidence_weight(dense, lexical, 0.6, 0.0) == 1.0
    assert fusion.confidence_weight(dense, np.full(3, np.nan), 0.6, 30.0) == 1.0
    # neither lane sure (negative cosines, no lexical hit): the configured α
    assert fusion.confidence_weight(np.array([-0.2]), np.array([np.nan]), 0.6, 0.0) == 0.6


def test_confidence_fusion_flips_with_lane_confidence():
    # Dense prefers chunk 1, lexical chunk 2; which wins depends on how sure each lane is.
    chunks, (dense, lexical) = aligned({1: 0.80, 2: 0.50, 3: 0.30}, {2: 9.0, 3: 1.0})
    assert best(chunks, fusion.confidence(dense, lexical, 0.6, 10.0)) == 2      # BM25 near its ceiling
    assert best(chunks, fusion.confidence(dense, lexical, 0.6, 200.0)) == 1     # BM25 far below it
    config = fusion.FusionConfig("confidence", 0.6)
    np.testing.assert_array_equal(fusion.fuse(dense, lexical, config, 10.0),
                                  fusion.confidence(dense, lexical, 0.6, 10.0))


def test_lexical_ceiling_is_the_sum_of_each_tokens_best_score():
    from search.lexical import LexicalIndex
    index = LexicalIndex.build([["hls", "403", "token"], ["hls", "hls", "cdn"], ["drm", "license"]])
    scores = index.scores(["hls", "403"])
    best = {t: max(index.scores([t])) for t in ("hls", "403")}
    assert index.ceiling(["hls", "403"]) == pytest.approx(best["hls"] + best["403"], rel=1e-6)
    assert index.ceiling(["hls", "403"]) >= scores.max()
    assert index.ceiling(["unknown"]) == 0.0
    assert index.ceiling(["hls", "hls"]) == pytest.approx(2 * best["hls"], rel=1e-6)   # counted as scores() does


def test_fusion_config_rejects_unknown_method():
    with pytest.raises(ValueError, match="fusion method"):
        fusion.FusionConfig(method="magic")


def test_group_by_article_keeps_best_section_first_and_order():
    article_of = {0: "A", 1: "B", 2: "A", 3: "C", 4: "A"}
    anchor_of = {0: "x", 1: "y", 2: "z", 3: "w", 4: "x"}
    groups = group_by_article([0, 1, 2, 3, 4], article_of, anchor_of, k=2)
    assert groups == [("A", [0, 2]), ("B", [1])]   # chunk 4 repeats A's anchor 'x' (part 2): dropped


def test_group_by_article_keeps_at_most_more_per_article():
    groups = group_by_article(range(6), ["A"] * 6, ["a", "b", "c", "d", "e", "f"], k=5, more_per_article=3)
    assert groups == [("A", [0, 1, 2, 3])]


def test_promote_moves_a_low_article_just_inside_the_first_k_with_its_sections():
    article_of = {1: "a", 2: "b", 3: "c", 4: "a", 5: "d", 6: "e", 7: "e"}
    chunks = [1, 2, 3, 4, 5, 6, 7]        # articles in rank order: a b c d e
    assert promote(chunks, article_of, ["e"], 3) == [1, 4, 2, 6, 7, 3, 5]   # a b e c d
    assert promote(chunks, article_of, ["e", "d"], 3) == [1, 4, 5, 6, 7, 2, 3]   # a d e b c: their own order
    assert promote(chunks, article_of, ["b", "zz"], 3) == chunks            # already inside, or unknown
    assert promote(chunks, article_of, ["e"], 0) == chunks                  # 0: off


def test_highlight_escapes_before_marking():
    out = highlight('<script>alert("x")</script> fragLoadError', query_terms("fragLoadError script"))
    assert "<script>" not in out
    assert "<mark>fragLoadError</mark>" in out
    assert "&lt;<mark>script</mark>&gt;" in out


def test_snippet_picks_window_with_query_terms():
    text = "Intro sentence. " * 40 + "The manifestLoadError happens when CORS is missing. " + "Tail. " * 40
    out = snippet(text, "manifestLoadError cors")
    assert "<mark>manifestLoadError</mark>" in out and len(best_window(text, ["cors"])) <= 250


def test_highlight_matches_word_forms():
    assert highlight("The player keeps buffering.", query_terms("buffer")) == "The player keeps <mark>buffering</mark>."


TAG_RE = re.compile(r"</?mark>")


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=300), terms=st.lists(st.text(min_size=1, max_size=12), max_size=4))
def test_highlight_property_only_mark_survives_and_text_round_trips(text, terms):
    out = highlight(text, query_terms(" ".join(terms)))
    without = TAG_RE.sub("", out)
    assert "<" not in without and ">" not in without          # the only tags are <mark>/</mark>
    assert html.unescape(without) == text                      # nothing lost, nothing added
