"""kb eval: the metrics, the ticket labels (primary and pooled), BEIR loading, and a run with the real model."""
from __future__ import annotations

import json
import math

import click
import pytest

from search.errors import SearchError
from search.evaluate import evaluate, load_beir, load_tickets, query_metrics

ARTICLES = {"A": {"error_codes": ["ERR_X"], "related_alerts": []}, "B": {"error_codes": [], "related_alerts": ["AlertB"]},
            "C": {}}


def test_query_metrics_known_values():
    m = query_metrics(["X", "A", "Y", "B"], {"A": 1, "B": 1})
    assert m["recall@1"] == 0 and m["recall@5"] == 1 and m["mrr@10"] == 0.5 and m["hit@1"] == 0
    ideal = 1 + 1 / math.log2(3)
    assert m["ndcg@10"] == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / ideal)
    assert query_metrics([], {"A": 1})["mrr@10"] == 0 and query_metrics(["A"], {"A": 1})["ndcg@10"] == 1


def test_graded_ndcg_prefers_the_higher_grade_first():
    rel = {"A": 2, "B": 1}
    assert query_metrics(["A", "B"], rel)["ndcg@10"] == pytest.approx(1.0)
    assert query_metrics(["B", "A"], rel)["ndcg@10"] < 1.0
    assert query_metrics(["B"], rel)["hit@1"] == 1.0   # an article that also answers is a hit


def _tickets(tmp_path, rows):
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_tickets_grades_primary_only_and_identifier_subset(tmp_path):
    path = _tickets(tmp_path, [
        {"id": "1", "text": "ERR_X when saving", "article_ids": ["A"], "also_answers": ["C"]},
        {"id": "2", "text": "AlertB fires at night", "article_ids": ["B"]},
        {"id": "3", "text": "something ERR_X", "article_ids": ["C"], "also_answers": ["A"]},  # A's code: not C's
    ])
    q = load_tickets(path, ARTICLES)
    assert [x.relevant for x in q] == [{"A": 2, "C": 1}, {"B": 2}, {"C": 2, "A": 1}]
    assert [x.has_identifier for x in q] == [True, True, False]   # the subset follows article_ids only
    assert [x.relevant for x in load_tickets(path, ARTICLES, primary_only=True)] == [{"A": 2}, {"B": 2}, {"C": 2}]
    report = evaluate(lambda text, mode: ["C"], q, ("hybrid",))["hybrid"]
    assert report["identifier_hit@1"] == 0.5 and report["recall@1"] == pytest.approx((0.5 + 0 + 0.5) / 3)


@pytest.mark.parametrize("row, message", [
    ({"id": "1", "text": "x"}, "missing field(s) article_ids"),
    ({"id": "1", "text": "x", "article_ids": ["A"], "also_answers": "C"}, "field 'also_answers' must be a list"),
])
def test_bad_ticket_records_name_the_record_and_field(tmp_path, row, message):
    with pytest.raises(SearchError, match="record 1: " + message.replace("(", r"\(").replace(")", r"\)")):
        load_tickets(_tickets(tmp_path, [row]), ARTICLES)


def test_beir_layout(tmp_path):
    (tmp_path / "corpus.jsonl").write_text('{"_id": "d1", "title": "T", "text": "error -12660 here"}\n'
                                           '{"_id": "d2", "text": "other"}\n')
    (tmp_path / "queries.jsonl").write_text('{"_id": "q1", "text": "what is -12660"}\n{"_id": "q2", "text": "x"}\n')
    (tmp_path / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t0\n")
    corpus, queries = load_beir(tmp_path)
    assert [a.id for a in corpus.articles] == ["d1", "d2"]
    assert [(q.id, q.relevant, q.has_identifier) for q in queries] == [("q1", {"d1": 1}, True)]  # q2: no positive qrel
    (tmp_path / "qrels.tsv").unlink()
    with pytest.raises(SearchError, match="no qrels.tsv"):
        load_beir(tmp_path)


def test_ticket_eval_with_the_real_model(real_settings, tmp_path, capsys):
    from kb_cli.search_cmds import run_eval

    path = _tickets(tmp_path, [
        {"id": "1", "text": "Hi,\nplayers fail\n2026-11-20 10:00:01 shaka error code 6007\nThanks,\nMaria",
         "article_ids": ["FAQ-DRM-001"]},
        {"id": "2", "text": "upload of a 6 GB file is refused with 413", "article_ids": ["FAQ-UPLOAD-001"]},
        {"id": "3", "text": "the CDN edge answers HTTP 502 Bad Gateway for every segment", "article_ids": ["RB-CDN-001"], "also_answers": ["FAQ-PLAYER-001"]},
    ])
    report = run_eval(real_settings, str(path), True, ("hybrid",))
    assert json.loads(capsys.readouterr().out)["hybrid"]["queries"] == 3
    h = report["hybrid"]
    assert h["identifier_queries"] == 2 and h["identifier_hit@1"] == 1.0   # 6007 only in the log line
    assert h["recall@1"] == pytest.approx((1 + 1 + 0.5) / 3)   # ticket 3: RB-CDN-001 first, FAQ-PLAYER-001 not
    assert run_eval(real_settings, str(path), True, ("hybrid",), primary_only=True)["hybrid"]["recall@1"] == 1.0
    assert "abstention_recall" not in h   # no unanswerable tickets given for a ticket file of one's own


def test_ticket_eval_reports_abstention_on_unanswerable_tickets(real_settings, tmp_path, capsys):
    from kb_cli.search_cmds import run_eval

    path = _tickets(tmp_path, [
        {"id": "1", "text": "shaka player license request fails, video never starts", "article_ids": ["FAQ-DRM-001"]},
        {"id": "2", "text": "upload of a 6 GB file is refused with 413", "article_ids": ["FAQ-UPLOAD-001"]},
    ])
    unanswerable = tmp_path / "uncovered.jsonl"
    unanswerable.write_text(json.dumps({"id": "U1", "text": "We want to blur the faces of bystanders automatically "
                                        "in uploaded videos. Is there a face blurring option?"}) + "\n")
    report = run_eval(real_settings, str(path), False, ("hybrid",), uncovered=str(unanswerable))["hybrid"]
    assert report["abstention_recall"] == 1.0 and report["false_abstention"] == 0.0
    assert report["abstention_precision"] == 1.0 and report["unanswerable_queries"] == 1
    assert "| hybrid | 1.000 | 1.000 | 0.000 |" in capsys.readouterr().out
    unanswerable.write_text('{"id": "U1"}\n')
    with pytest.raises(click.ClickException, match="record 1: field 'text'"):
        run_eval(real_settings, str(path), False, ("hybrid",), uncovered=str(unanswerable))
    with pytest.raises(click.ClickException, match="no-such.jsonl: cannot read"):
        run_eval(real_settings, str(path), False, ("hybrid",), uncovered=str(tmp_path / "no-such.jsonl"))
