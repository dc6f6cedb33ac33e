"""``kb index``, ``kb search`` and ``kb eval``: parse options, call the search core, print."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click

DEFAULT_TICKETS = "eval/tickets.jsonl"
DEFAULT_UNCOVERED = "eval/uncovered.jsonl"   # tickets no article answers: abstention is measured on them


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


def run_index(settings, force: bool, progress: bool = True) -> None:
    from search.errors import SearchError
    from search.indexer import build_index

    try:
        report = build_index(settings, force=force, progress=progress)
    except SearchError as exc:
        raise _fail(exc) from None
    if report.removed_leftovers:
        click.echo(f"removed leftovers of unfinished builds: {', '.join(report.removed_leftovers)}")
    if report.up_to_date:
        click.echo(f"index is up to date (build {report.build_id}); use --force to rebuild")
        return
    rate = report.chunks / report.seconds if report.seconds else 0.0
    click.echo(f"published build {report.build_id}: {report.chunks} chunks ({report.embedded} embedded, "
               f"{report.reused} reused), dense index {report.dense_kind}, {report.seconds:.1f} s ({rate:.0f} chunks/s)")


def run_search(settings, query: str, k: int, mode: str, area, type_, tag, as_json: bool) -> None:
    from search.errors import SearchError
    from search.searcher import open_searcher

    try:
        response = open_searcher(settings).search(query, k=k, mode=mode, area=area, type=type_, tag=tag)
    except SearchError as exc:
        raise _fail(exc) from None
    if as_json:
        click.echo(json.dumps(response.to_json(), indent=2, ensure_ascii=False))
        return
    if not response.confident:
        click.echo("No confident match — closest sections:" if response.results else "No match.")
    for rank, r in enumerate(response.results, 1):
        click.echo(f"{rank:2}. {r.article_id}  {r.title}  [{r.type}, {r.service_area}]  score {r.score:.3f}")
        click.echo(f"    § {r.best.heading} → {r.best.url}   lanes: {', '.join(r.best.lanes)}"
                   + (f"   identifiers: {', '.join(r.best.identifiers)}" if r.best.identifiers else ""))
        for more in r.more:
            click.echo(f"      also § {more.heading} → {more.url}")
    click.echo(f"({response.took_ms:.1f} ms, build {response.build_id})")


def _beir_searcher(settings, directory: Path, progress: bool):
    """Index a BEIR corpus into its own cache under <data_dir>/eval/ (reused while unchanged)."""
    from search.evaluate import load_beir
    from search.indexer import build_index
    from search.searcher import open_searcher

    corpus, queries = load_beir(directory)
    root = Path(settings.data_dir) / "eval" / f"{directory.name}-{corpus.sha256[:12]}"
    local = dataclasses.replace(settings, index_root=str(root), keep_builds=1)
    build_index(local, corpus=corpus, progress=progress)
    return open_searcher(local), queries


def _add_abstention(report: dict, run, abstained: dict[str, list[bool]], unanswerable: Path) -> None:
    """Search the unanswerable tickets in every mode; ``abstained[mode]`` holds the labelled
    tickets' "no confident match" flags so far. Adds the abstention figures to ``report``."""
    from search.evaluate import abstention_metrics, load_texts

    texts = load_texts(unanswerable)
    for mode in abstained:
        answerable, abstained[mode] = abstained[mode], []
        for text in texts:
            run(text, mode)
        report[mode].update(abstention_metrics(answerable, abstained[mode]))


def run_eval(settings, path: str | None, as_json: bool, modes: tuple[str, ...], k: int = 10,
             primary_only: bool = False, uncovered: str | None = None) -> dict:
    from search.errors import SearchError
    from search.evaluate import evaluate, format_abstention, format_table, load_tickets
    from search.searcher import open_searcher
    from search.ticket import ticket_query

    target = Path(path or DEFAULT_TICKETS)
    try:
        if target.is_dir():
            searcher, queries = _beir_searcher(settings, target, progress=not as_json)
        elif target.is_file():
            searcher = open_searcher(settings)
            queries = load_tickets(target, searcher.build.articles, primary_only)
        else:
            raise SearchError(f"{target}: no such ticket file or BEIR directory")

        as_tickets = not target.is_dir()   # tickets are searched as the ticket assistant searches them
        abstained: dict[str, list[bool]] = {mode: [] for mode in modes}

        def run(text: str, mode: str) -> list[str]:
            ticket = ticket_query(text) if as_tickets else None
            query, focus = (ticket.query, ticket.focus) if ticket else (text[:20000], None)
            response = searcher.search(query, k=k, mode=mode, focus=focus)
            abstained[mode].append(not response.confident)
            return [r.article_id for r in response.results]

        report = evaluate(run, queries, modes)
        # the unanswerable tickets: --uncovered, or eval/uncovered.jsonl next to the default tickets
        unanswerable = Path(uncovered) if uncovered else Path(DEFAULT_UNCOVERED) if path is None else None
        if as_tickets and unanswerable is not None and (uncovered or unanswerable.is_file()):
            _add_abstention(report, run, abstained, unanswerable)
    except SearchError as exc:
        raise _fail(exc) from None
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(format_table(str(target), report))
        if "abstention_recall" in next(iter(report.values())):
            click.echo("\n" + format_abstention(str(unanswerable), report))
    return report
