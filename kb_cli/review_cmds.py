"""``kb review``: an owner's review queue from the command line (the same function as GET /api/review)."""
from __future__ import annotations

import json

import click


def _articles(settings) -> dict[str, dict]:
    """Article metadata of the published index build (what the service serves)."""
    from search.errors import SearchError
    from search.store import current_dir

    try:
        path = current_dir(settings.index_path) / "articles.json"
        return {a["id"]: a for a in json.loads(path.read_text(encoding="utf-8"))}
    except SearchError as exc:
        raise click.ClickException(str(exc)) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise click.ClickException(f"cannot read the published build's article list ({exc}); run 'kb index'") from None


def _line(entry: dict) -> str:
    parts = []
    if entry["overdue_days"]:
        parts.append(f"review {entry['overdue_days']} days overdue (due {entry['review_due']})")
    if entry["flags"]:
        reasons = ", ".join(sorted({f["reason"] for f in entry["flags"]}))
        parts.append(f"{len(entry['flags'])} open flag(s): {reasons}")
    if entry["not_helpful"]:
        parts.append(f"{len(entry['not_helpful'])} 'not helpful'")
    return f"{entry['urgency']:>3}  {entry['article_id']}  {entry['title']}  [{entry['owner'] or 'no owner'}]\n     " + \
        "; ".join(parts)


def run_review(settings, owner: str | None, as_json: bool) -> None:
    from kb_cli.access_cmds import _engine
    from search.service.links import StoreBusy, StoreError
    from search.service.review.views import queue_body

    articles = _articles(settings)
    engine = _engine(settings)
    try:
        body = queue_body(engine, articles, owner)
    except (StoreBusy, StoreError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(body, ensure_ascii=False, sort_keys=True))
        return
    if not body["articles"]:
        click.echo(f"Nothing to review{' for ' + owner if owner else ''} (no open flags, no review due).")
        return
    click.echo(f"Review queue{' of ' + owner if owner else ''} on {body['today']}, most urgent first (urgency, article):")
    for entry in body["articles"]:
        click.echo(_line(entry))


def _gap_line(entry: dict) -> str:
    what = "ticket identifiers" if entry["kind"] == "suggest" else "search"
    line = (f"{entry['no_confident_match']:>5}  {entry['query'] or '(none)'}  [{what}; {entry['days']} day(s), "
            f"{entry['callers_at_least']}+ callers/day]")
    undeclared = entry.get("undeclared_identifiers")
    return line + (f"\n       declared by no article: {', '.join(undeclared)}" if undeclared else "")


def run_gaps(settings, days: int, area: str | None, as_json: bool) -> None:
    from search.service.gaps.normalise import area_value
    from search.service.gaps.views import report
    from search.service.links import StoreBusy, StoreError, open_store

    declared = {str(c).lower() for a in _articles(settings).values()
                for c in (*(a.get("error_codes") or ()), *(a.get("related_alerts") or ()))}
    try:
        store = open_store(settings.database)
        try:
            body = report(store, settings, declared, days, area_value(area) if area else None)
        finally:
            store.close()
    except (StoreBusy, StoreError) as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(body, ensure_ascii=False, sort_keys=True))
        return
    click.echo(f"Knowledge gaps since {body['since']} (queries asked by at least {body['min_callers']} callers on a day"
               f"{'' if body['recording'] else '; query recording is OFF (record_queries)'}):")
    if not body["gaps"]:
        click.echo("  none: every frequent query found a confident match.")
    for group in body["gaps"]:
        click.echo(f"area {group['area'] or '(any)'}:")
        for entry in group["queries"]:
            click.echo(_gap_line(entry))
    click.echo("Top confident queries (requests, query → top article):")
    for entry in body["top_queries"]:
        click.echo(f"{entry['requests'] - entry['no_confident_match']:>5}  {entry['query']} → {entry['top_article'] or '-'}")
    if body["dropped_requests"]:
        click.echo(f"({body['dropped_requests']} request(s) not recorded: max_queries_per_day reached)")
