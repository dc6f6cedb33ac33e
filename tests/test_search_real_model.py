"""Known-answer retrieval on the fixture KB with the real model (ONNX export of all-MiniLM-L6-v2)."""
from __future__ import annotations

import pytest

from search.errors import QueryError


@pytest.mark.parametrize("query, expected", [
    ("manifestLoadError", "FAQ-PLAYER-001"),
    ("shaka error 6007 on chrome", "FAQ-DRM-001"),
    ("HTTP/1.1 413 Payload Too Large when uploading a 6 GB file", "FAQ-UPLOAD-001"),
    ("edge returns 502 bad gateway to lots of viewers", "RB-CDN-001"),
])
def test_identifier_and_keyword_queries(real_searcher, query, expected):
    response = real_searcher.search(query, k=3)
    assert response.results[0].article_id == expected
    assert response.confident


def test_identifier_hit_is_ranked_first_and_reported(real_searcher):
    top = real_searcher.search("player log says manifestLoadError, fatal true", k=3).results[0]
    assert top.article_id == "FAQ-PLAYER-001"
    assert "identifier" in top.best.lanes and "manifestLoadError" in top.best.identifiers


@pytest.mark.parametrize("query, expected", [
    ("the protected movie never starts because the key server refuses to hand out a key", "FAQ-DRM-001"),
    ("the uploader rejects my huge video file because of its size", "FAQ-UPLOAD-001"),
])
def test_meaning_only_queries(real_searcher, query, expected):
    ids = [r.article_id for r in real_searcher.search(query, k=2, mode="hybrid").results]
    assert ids[0] == expected, ids
    assert real_searcher.search(query, k=1, mode="dense").results[0].article_id == expected


def test_results_are_grouped_with_deep_links_and_safe_snippets(real_searcher):
    response = real_searcher.search("CORS <b>Access-Control-Allow-Origin</b> missing", k=4)
    ids = [r.article_id for r in response.results]
    assert len(ids) == len(set(ids))
    best = response.results[0].best
    assert best.url.startswith(response.results[0].url) and "#" in best.url
    for r in response.results:
        for hit in [r.best, *r.more]:
            assert "<b>" not in hit.snippet


def test_filters(real_searcher):
    response = real_searcher.search("error", k=10, area="cdn")
    assert response.results and {r.service_area for r in response.results} == {"cdn"}
    assert {r.type for r in real_searcher.search("error", k=10, type="faq").results} == {"faq"}
    with pytest.raises(QueryError, match="'area'"):
        real_searcher.search("error", area="nowhere")
    with pytest.raises(QueryError, match="'mode'"):
        real_searcher.search("error", mode="fuzzy")
    with pytest.raises(QueryError, match="'k'"):
        real_searcher.search("error", k=0)


def test_off_topic_query_is_not_a_confident_match(real_searcher):
    response = real_searcher.search("what is on the cafeteria lunch menu tomorrow", k=3)
    assert not response.confident


def test_query_encoder_is_onnx_int8_close_to_torch(real_settings, real_searcher):
    import numpy as np

    from search.encoder import make_encoder
    from search.encoder_torch import TorchEncoder
    from search.encoder import resolve_model

    assert real_searcher.encoder.backend == "onnx-int8"
    texts = ["hls.js fragLoadError after 10 minutes", "upload rejected with 413"]
    torch_vecs = TorchEncoder(resolve_model(real_settings.model)).encode(texts)
    fp32 = make_encoder(real_settings.model, "onnx", real_settings.data_dir, "index").encode(texts)
    int8 = real_searcher.encoder.encode(texts)
    assert np.min(np.sum(torch_vecs * fp32, axis=1)) > 0.999
    assert np.min(np.sum(torch_vecs * int8, axis=1)) > 0.9


# In-domain tickets that no article answers, written for this test and never used to calibrate
# the threshold (eval/uncovered.jsonl was): "no confident match" must fire on them.
HELD_OUT_UNANSWERABLE = [
    "Our marketing team wants a 'buy now' product link that pops up at 0:15 in the video (shoppable video). "
    "Does the player support clickable hotspots or overlays?",
    "We want to blur the faces of bystanders automatically in uploaded videos for privacy reasons. "
    "Is there a face blurring option during processing?",
]
# answerable by the fixture KB's four articles (Shaka 6007, 413 on upload, CDN 5xx, hls.js manifest)
ANSWERABLE = [
    "shaka player license request fails, video never starts",
    "uploading a big file fails because the request body is too large",
    "many viewers see errors from the CDN edge at the same time",
    "hls.js manifestLoadError, response code 0",
]


@pytest.mark.parametrize("ticket", HELD_OUT_UNANSWERABLE)
def test_no_confident_match_for_an_in_domain_question_the_kb_does_not_answer(real_searcher, ticket):
    response = real_searcher.search(ticket, k=5)
    assert response.results and not response.confident, response.evidence


@pytest.mark.parametrize("ticket", ANSWERABLE)
def test_answerable_questions_stay_confident(real_searcher, ticket):
    response = real_searcher.search(ticket, k=5)
    assert response.confident, response.evidence


def test_matched_articles_counts_the_articles_that_hold_a_query_word(real_searcher):
    """The honest count behind a page of results: articles whose sections contain a word of the
    query (or declare it as a code), computed here independently from the build's own texts. A
    lower-case word is one term (``manifestLoadError`` would also count its parts)."""
    build = real_searcher.build
    holders = {c["article_id"] for c in build.chunks if "manifestloaderror" in c["text"].lower()}
    holders |= {aid for aid, a in build.articles.items()
                if "manifestloaderror" in {code.lower() for code in a.get("error_codes", ())}}
    response = real_searcher.search("manifestloaderror", k=1)
    assert holders and response.matched_articles == len(holders) and len(response.results) == 1
    assert response.to_json()["matched_articles"] == len(holders)
    assert real_searcher.search("zzqxj", k=5).matched_articles == 0
    assert real_searcher.search("manifestLoadError", mode="dense").matched_articles is None
    area = build.articles[sorted(holders)[0]]["service_area"]
    in_area = {aid for aid in holders if build.articles[aid]["service_area"] == area}
    assert real_searcher.search("manifestloaderror", area=area).matched_articles == len(in_area)


# Tickets where one lane's best article is only third in the fused ranking of the four fixture
# articles (checked with lane_winners_within=0, below), searched as the ticket assistant does: a
# lane's winner must not be pushed out of the suggestions. With the real KB the guarantee is
# "top 5" (docs/retrieval.md, session 10).
LANE_WINNER_TICKETS = [
    "storage returning HTTP 500 InternalError on a few GETs vs the 503s we saw last week - same thing? "
    "retry or vendor case?",
    "is there a template for the very first message when we have no idea of the cause? first one is due "
    "within 5 min right",
]


@pytest.mark.parametrize("text", LANE_WINNER_TICKETS)
def test_each_lanes_best_article_stays_among_the_first_articles(real_searcher, text):
    from search.searcher import SearchConfig, Searcher
    from search.ticket import ticket_query

    ticket = ticket_query(text)
    ids = lambda searcher, **kw: [r.article_id for r in   # noqa: E731
                                  searcher.search(ticket.query, focus=ticket.focus, **kw).results]
    winners = {ids(real_searcher, k=1, mode=mode)[0] for mode in ("dense", "lexical")}
    off = ids(Searcher(real_searcher.build, real_searcher.encoder, SearchConfig(lane_winners_within=0)), k=4)
    assert winners - set(off[:2])                      # the fused ranking alone puts a lane's winner third
    two = ids(Searcher(real_searcher.build, real_searcher.encoder, SearchConfig(lane_winners_within=2)), k=4)
    assert winners <= set(two[:2]) and sorted(two) == sorted(off) and two[0] == off[0]   # rank 1 kept, none lost


@pytest.mark.parametrize("query", ["segments fail to load", "token expired",
                                   "uploading a big file fails because the request body is too large"])
def test_the_first_articles_and_their_scores_do_not_depend_on_k(real_searcher, query):
    """Article scores (best section + 0.1 × another) come from a pool of ranked sections that does
    not shrink with k: with k * 8 sections, k 1 left out the second section that k 4 counted."""
    one, four = real_searcher.search(query, k=1).results, real_searcher.search(query, k=4).results
    assert [(r.article_id, r.score) for r in one] == [(r.article_id, r.score) for r in four[:1]]
    two = real_searcher.search(query, k=2).results
    assert [(r.article_id, r.score) for r in two] == [(r.article_id, r.score) for r in four[:2]]
