"""Pure functions behind trustworthy rankings: link-list sections, sections shown per article,
stack-frame names and log keywords that are not identifiers, identifiers in the ticket's spelling,
and what the cleaner removed staying out of every lane."""
from __future__ import annotations

from search.identifier_filters import as_written, is_log_word, method_calls, ticket_identifiers, without_frames
from search.results import group_by_article, is_link_list
from search.ticket import clean_ticket, ticket_query


def test_link_list_sections_are_recognised_by_heading():
    for heading in ("Related", "See also", "References", "related articles", "Further reading", "See also:"):
        assert is_link_list(heading), heading
    for heading in ("Resolution", "Related forms of the error", "Referencing a key", ""):
        assert not is_link_list(heading), heading


def test_a_hidden_section_places_its_article_but_is_not_listed():
    article_of = ["A", "A", "B", "B", "C"]
    anchor_of = ["res", "issue", "related", "cause", "x"]
    shown = [False, True, False, True, True]
    groups = group_by_article([0, 2, 4, 1, 3], article_of, anchor_of, k=3, shown=shown)
    assert groups == [("A", [1]), ("B", [3]), ("C", [4])]
    # an article placed only by hidden sections comes back empty: the caller picks one to show
    assert group_by_article([2], article_of, anchor_of, k=3, shown=shown) == [("B", [])]


def test_stack_frames_are_dropped_but_exceptions_and_prose_stay():
    trace = ("java.lang.IllegalStateException: Handler dead\n"
             "    at android.os.Handler.dispatchMessage(Handler.java:106)\n"
             "    at android.os.Looper.loopOnce(Looper.java:201)\n"
             "    at verifySv (/app/src/hooks/sv.js:41:17)\n"
             "    at Layer.handle [as handle_request] (/app/node_modules/express/lib/router/layer.js:95:5)\n"
             "    at /app/index.js:3:9\n"
             '  File "app.py", line 12, in handler\n'
             "3   MyApp   0x0000000100a1b2c3 -[PlayerVC viewDidLoad] + 120\n"
             "    ... 12 more\n"
             "at the moment it dies (see the log above)\n"
             "Caused by: androidx.media3.datasource.HttpDataSource$InvalidResponseCodeException: Response code: 404")
    kept = without_frames(trace)
    for gone in ("dispatchMessage", "loopOnce", "verifySv", "handle_request", "index.js", "app.py", "viewDidLoad", "12 more"):
        assert gone not in kept, gone
    for stays in ("IllegalStateException", "at the moment it dies", "InvalidResponseCodeException", "404"):
        assert stays in kept, stays
    keys = ticket_identifiers(trace)
    assert "illegalstateexception" in keys and "invalidresponsecodeexception" in keys and "http 404" in keys
    assert not keys & {"dispatchmessage", "looponce", "verifysv"}


def test_log_keywords_are_not_identifiers():
    for word in ("fatal: true", "fatal: false", "fatal=true", "level: error", "debug", "warn"):
        assert is_log_word(word), word
    for key in ("fragloaderror", "http 403", "err_hls_403", "6007", "503 slow down", "latency_mode"):
        assert not is_log_word(key), key
    assert ticket_identifiers('{type: "networkError", details: "fragLoadError", fatal: true}') == {
        "networkerror", "fragloaderror"}
    # methods the code called are not errors it got
    assert ticket_identifiers("then hls.stopLoad() and player . attachMedia (video); fragLoadError") == {"fragloaderror"}
    assert method_calls("hls.stopLoad(); x.loadSource (url)") == {"stopload", "loadsource"}
    assert method_calls("Shaka Error NETWORK.BAD_HTTP_STATUS (https://cdn)") == set()   # an error name, not a call


def test_identifiers_keep_the_tickets_spelling():
    text = "HTTP/2 429 then fragLoadError; Response code: 404; 503 Slow Down; 6007; #EXT-X-TARGETDURATION"
    spelled = as_written(text, ["http 429", "fragloaderror", "http 404", "503 slow down", "6007",
                                "ext-x-targetduration", "absent"])
    assert spelled == {"http 429": "HTTP/2 429", "fragloaderror": "fragLoadError", "http 404": "Response code: 404",
                       "503 slow down": "503 Slow Down", "6007": "6007",
                       "ext-x-targetduration": "#EXT-X-TARGETDURATION"}
    assert clean_ticket("hls.js says fragLoadError and bufferStalledError").identifiers == [
        "bufferStalledError", "fragLoadError"]


def test_removed_text_counts_in_no_lane():
    body = ("Hi team,\nour HDR uploads look washed out on Android.\n"
            "This email is confidential and may be privileged.\nThanks,\nAna\nSent from my iPhone")
    ticket = ticket_query(body)
    for gone in ("iPhone", "confidential", "Ana", "Hi team"):
        assert gone not in ticket.query and gone not in ticket.focus, gone
    assert "washed out" in ticket.query
    assert "iphone" not in {i.lower() for i in ticket.cleaned.identifiers}


def test_a_ticket_that_is_all_boilerplate_is_still_searched():
    ticket = ticket_query("how do I unsubscribe from the marketing newsletter")
    assert ticket.query == ticket.focus == "how do I unsubscribe from the marketing newsletter"


def test_content_words_are_distinct_and_skip_numbers_and_short_tokens():
    from search.abstention import content_words
    assert content_words(["logo", "hd", "logo", "1080", "-12660", "watermark", "avc1.64001f"]) == [
        "logo", "watermark", "avc1.64001f"]


def test_coverage_weighs_rare_and_unknown_words_most():
    from search.abstention import coverage, idf
    assert idf(0, 100) > idf(1, 100) > idf(50, 100) > 0
    df = {"player": 60, "watermark": 0, "stall": 3}.get
    in_top = {"player", "stall"}.__contains__
    # the unknown word outweighs the common one: low coverage although 2 of 3 words match
    share = coverage(["player", "watermark", "stall"], df, 100, in_top)
    assert 0.4 < share < 0.6
    assert coverage(["player", "stall"], df, 100, in_top) == 1.0
    assert coverage([], df, 100, in_top) == 1.0    # nothing to contradict the ranking


def test_confidence_needs_an_identifier_or_enough_combined_evidence():
    from search.abstention import Evidence, confident
    assert confident(Evidence(True, 0.1, 0.0), 0.6)                 # identifier tier: always
    assert confident(Evidence(False, 0.45, 0.3), 0.6)               # 0.45 + 0.5·0.3 = 0.60
    assert not confident(Evidence(False, 0.45, 0.2), 0.6)
    assert not confident(Evidence(False, 0.55, 0.0), 0.6)           # similar text, none of its words


def test_abstention_metrics():
    from search.evaluate import abstention_metrics
    m = abstention_metrics([False] * 19 + [True], [True, True, True, False])
    assert m["abstention_recall"] == 0.75 and m["abstention_precision"] == 0.75 and m["false_abstention"] == 0.05
    assert abstention_metrics([False], [])["abstention_recall"] is None
    assert abstention_metrics([False], [False])["abstention_precision"] is None


def test_article_score_adds_a_share_of_its_second_best_section():
    from search.results import article_scores, by_article_score
    ranked = {0: 1.0, 5: 0.9, 6: 0.8, 1: 0.1}       # best first
    article_of = {0: "A", 1: "A", 5: "B", 6: "B"}
    anchor_of = {0: "issue", 1: "cause", 5: "resolution", 6: "verify"}
    scores = article_scores(ranked, article_of, anchor_of, 0.25)
    assert scores == {"A": 1.0 + 0.25 * 0.1, "B": 0.9 + 0.25 * 0.8}
    assert by_article_score(ranked, article_of, scores) == [5, 6, 0, 1]   # B answers in two places
    assert by_article_score(ranked, article_of, article_scores(ranked, article_of, anchor_of, 0.0)) == [0, 1, 5, 6]
    # two windows of one long section are one section
    windows = article_scores(ranked, article_of, {0: "issue", 1: "cause", 5: "resolution", 6: "resolution"}, 0.25)
    assert windows == {"A": 1.0 + 0.25 * 0.1, "B": 0.9}


RELATED_ARTICLE = '''---
id: FAQ-UPLOAD-009
title: Choosing chunk sizes for big uploads
type: faq
service_area: upload
owner: team-media-ingest
last_reviewed: 2026-11-01
review_interval_days: 90
status: draft
tags: [upload]
---
## Issue

Which part size should a client use for multipart uploads?

## Environment

Web and mobile clients.

## Resolution

### 1. Pick the part size

Parts of 8 to 64 MiB keep retries cheap.

## Cause

Every part is retried on its own.

## Related

"413 Payload Too Large" during upload: single request larger than the gateway body limit, request
entity too large, payload too large, 413 payload too large.
'''


def test_link_lists_never_rank_and_every_result_has_a_snippet(tmp_path):
    """A Related section full of another article's words must not put its article first, and an
    article whose best chunk is an empty heading section shows a section with text."""
    import shutil

    from search.indexer import build_index
    from search.searcher import open_searcher
    from search.settings import load_settings
    from tests.conftest import FIXTURE_KB, build_mkdocs
    from tests.fake_encoder import FakeEncoder

    kb = tmp_path / "kb"
    shutil.copytree(FIXTURE_KB, kb, ignore=shutil.ignore_patterns("site"))
    (kb / "docs" / "upload" / "chunk-sizes.md").write_text(RELATED_ARTICLE, encoding="utf-8")
    build_mkdocs(kb / "mkdocs.yml", kb / "site")
    settings = load_settings(None, {"site_dir": str(kb / "site"), "data_dir": str(tmp_path / "data")}, environ={})
    build_index(settings, encoder=FakeEncoder(), progress=False)
    searcher = open_searcher(settings, encoder=FakeEncoder())
    for mode in ("hybrid", "lexical", "dense"):
        for query in ("payload too large request entity too large", "multipart part size resolution",
                      "Choosing chunk sizes for big uploads"):
            results = searcher.search(query, k=5, mode=mode).results
            assert results
            for result in results:
                assert result.best.heading != "Related" and all(h.heading != "Related" for h in result.more)
                assert result.best.snippet.strip(), (mode, query, result.article_id, result.best.heading)
    top = searcher.search("payload too large request entity too large", k=5, mode="lexical").results
    assert top[0].article_id == "FAQ-UPLOAD-001"
