"""Fusion, grouping and snippet functions: pure, no model."""
from __future__ import annotations

import html
import re

import pytest
from hypothesis import given, settings, strategies as st

from search import fusion
from search.results import SectionHit, best_window, group_by_article, highlight, query_terms, snippet


def test_rrf_rewards_agreement_and_respects_weights():
    dense = {1: 0.9, 2: 0.8, 3: 0.1}
    lexical = {2: 12.0, 3: 11.0, 4: 1.0}
    fused = fusion.rrf([dense, lexical], [0.5, 0.5], k=60)
    assert max(fused, key=fused.get) == 2            # ranked high by both lanes
    heavy_dense = fusion.rrf([dense, lexical], [1.0, 0.0], k=60)
    assert max(heavy_dense, key=heavy_dense.get) == 1


def test_minmax_and_distribution_scale_into_unit_interval():
    assert fusion.minmax({1: 5.0, 2: 10.0, 3: 7.5}) == {1: 0.0, 2: 1.0, 3: 0.5}
    assert fusion.minmax({1: 3.0}) == {1: 1.0}
    scaled = fusion.distribution({i: float(i) for i in range(20)})
    assert all(0.0 <= v <= 1.0 for v in scaled.values())
    assert scaled[19] > scaled[10] > scaled[0]


def test_distribution_fusion_lets_a_confident_lane_win():
    # The lexical lane has one hit far above its others; the dense lane is flat.
    dense = {i: 0.50 + 0.001 * i for i in range(30)}
    lexical = {7: 30.0, **{i: 2.0 for i in range(10, 30)}}
    fused = fusion.dbsf(dense, lexical, 0.5)
    assert max(fused, key=fused.get) == 7
    convex = fusion.convex(dense, lexical, 0.5)
    assert max(convex, key=convex.get) == 7


def test_fusion_config_rejects_unknown_method():
    with pytest.raises(ValueError, match="fusion method"):
        fusion.FusionConfig(method="magic")


def _hit(chunk: int, anchor: str) -> SectionHit:
    return SectionHit(chunk, anchor, anchor, [anchor], f"a/#{anchor}", 1.0 / (chunk + 1), ["dense"], [])


def test_group_by_article_keeps_best_section_first_and_order():
    hits = [_hit(0, "x"), _hit(1, "y"), _hit(2, "z"), _hit(3, "w"), _hit(4, "x")]
    article_of = {0: "A", 1: "B", 2: "A", 3: "C", 4: "A"}
    groups = group_by_article(hits, article_of, k=2)
    assert [g[0] for g in groups] == ["A", "B"]
    assert groups[0][1].anchor == "x"
    assert [h.anchor for h in groups[0][2]] == ["z"]  # duplicate anchor 'x' (part 2) dropped


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
