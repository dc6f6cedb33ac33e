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
