"""Entry point of the ``kb`` console script."""
from __future__ import annotations

import logging

import click

from search.settings import SETTINGS, SettingsError, load_settings


def _settings(ctx: click.Context, **overrides):
    try:
        return load_settings(ctx.obj.get("config"), overrides)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


class KBGroup(click.Group):
    """Turns an OSError escaping a command (a configured path that is a file, unwritable, on a full
    disk, …) into one message naming the path, instead of a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BrokenPipeError:   # `kb search … | head`: the reader left
            raise
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            raise click.ClickException(f"{where}{exc.strerror or exc}; check the settings that point there "
                                       "(data_dir, index_root, site_dir, database_url)") from None


@click.group(cls=KBGroup, help="Video platform support knowledge base: build the site, index it, search and serve it.\n\n"
             "Settings: " + "; ".join(f"{s.name} (KB_{s.name.upper()}, default {s.default!r})" for s in SETTINGS))
@click.option("--config", "config", type=click.Path(dir_okay=False), default=None,
              help="TOML settings file (default: kb.toml when present, or $KB_CONFIG).")
@click.option("-v", "--verbose", is_flag=True, help="More log output.")
@click.pass_context
def cli(ctx: click.Context, config: str | None, verbose: bool) -> None:
    ctx.ensure_object(dict)["config"] = config
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)-7s %(message)s")
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    for ours in ("search", "kb_cli", "kb", "mkdocs"):
        logging.getLogger(ours).setLevel(logging.DEBUG if verbose else logging.INFO)


@cli.command(help="Build and validate the static site and the corpus export (same as mkdocs build --strict).")
@click.option("--site-dir", default=None, help="Output directory (setting site_dir).")
@click.option("--mkdocs-config", default=None, help="MkDocs configuration file (setting mkdocs_config).")
@click.option("--no-strict", is_flag=True, help="Do not fail on MkDocs warnings (validation errors still fail).")
@click.option("--audience", type=click.Choice(["customer"]), default=None,
              help="Build a separate site with only this audience's articles (needs --site-dir).")
@click.pass_context
def build(ctx: click.Context, site_dir: str | None, mkdocs_config: str | None, no_strict: bool,
          audience: str | None) -> None:
    from kb_cli.build_site import build_site

    if audience and not site_dir:
        raise click.UsageError("--audience needs --site-dir: the customer site must not overwrite the internal one")
    settings = _settings(ctx, site_dir=site_dir, mkdocs_config=mkdocs_config)
    build_site(settings, strict=not no_strict, audience=audience)
    click.echo(f"Site built in {settings.site_dir}/ (corpus export: {settings.corpus_path})")


@cli.command(help="Build or update the search index from the corpus export, and publish it atomically.")
@click.option("--force", is_flag=True, help="Rebuild even when the corpus and model are unchanged.")
@click.option("--site-dir", default=None, help="Built site holding kb-corpus.json (setting site_dir).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def index(ctx: click.Context, force: bool, site_dir: str | None, quiet: bool) -> None:
    from kb_cli.search_cmds import run_index

    run_index(_settings(ctx, site_dir=site_dir), force, progress=not quiet)


@cli.command(help="Search the published index: kb search \"hls 403 segments after 10 min\".")
@click.argument("query")
@click.option("--area", default=None, help="Only this service area (e.g. cdn, playback).")
@click.option("--type", "type_", default=None, type=click.Choice(["runbook", "faq", "reference"]), help="Only this article type.")
@click.option("--tag", default=None, help="Only articles with this tag.")
@click.option("-k", "k", default=10, show_default=True, type=click.IntRange(1, 50), help="Number of articles.")
@click.option("--mode", default="hybrid", show_default=True, type=click.Choice(["hybrid", "dense", "lexical"]))
@click.option("--json", "as_json", is_flag=True, help="Print the JSON response of the API instead of text.")
@click.pass_context
def search(ctx: click.Context, query: str, area, type_, tag, k: int, mode: str, as_json: bool) -> None:
    from kb_cli.search_cmds import run_search

    run_search(_settings(ctx), query, k, mode, area, type_, tag, as_json)


@cli.command(name="eval", help="Measure retrieval on the labelled tickets (default eval/tickets.jsonl) "
             "or on a BEIR directory (corpus.jsonl, queries.jsonl, qrels.tsv).")
@click.argument("path", required=False)
@click.option("--mode", "modes", multiple=True, type=click.Choice(["hybrid", "dense", "lexical"]),
              help="Modes to evaluate (default: all three).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON keyed by mode.")
@click.option("--primary-only", is_flag=True,
              help="Tickets: count only each ticket's article_ids as relevant (ignore also_answers).")
@click.option("--uncovered", default=None, metavar="FILE",
              help="Tickets: unanswerable tickets (.jsonl with 'text') for the no-confident-match figures "
                   "(default eval/uncovered.jsonl when it exists).")
@click.pass_context
def eval_(ctx: click.Context, path: str | None, modes: tuple[str, ...], as_json: bool, primary_only: bool,
          uncovered: str | None) -> None:
    from kb_cli.search_cmds import run_eval

    run_eval(_settings(ctx), path, as_json, modes or ("hybrid", "dense", "lexical"), primary_only=primary_only,
             uncovered=uncovered)


@cli.command(help="Serve the built site and the search API on one origin (gunicorn; 127.0.0.1:8000 by default).")
@click.option("--host", default=None, help="Bind address (setting host).")
@click.option("--port", type=int, default=None, help="Port (setting port).")
@click.option("--workers", type=int, default=None, help="Worker processes (setting workers).")
@click.option("--threads", type=click.IntRange(1, 64), default=4, show_default=True, help="Threads per worker.")
@click.option("--site-dir", default=None, help="Built site directory (setting site_dir).")
@click.option("--dev", is_flag=True, help="Flask's development server instead of gunicorn (one process).")
@click.pass_context
def serve(ctx: click.Context, host, port, workers, threads: int, site_dir, dev: bool) -> None:
    from kb_cli.serve import run_serve

    run_serve(_settings(ctx, host=host, port=port, workers=workers, site_dir=site_dir), dev, threads)


@cli.group(help="The service database (links, suggestions, API tokens, audit): migrations.")
def db() -> None:
    pass


@db.command(name="upgrade", help="Migrate the service database (setting database_url) to the newest revision. "
            "Idempotent; safe while other processes wait for it.")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    from kb_cli.db_cmds import run_upgrade

    run_upgrade(_settings(ctx))


@db.command(name="status", help="Show the service database's revision and whether it needs 'kb db upgrade'.")
@click.pass_context
def db_status(ctx: click.Context) -> None:
    from kb_cli.db_cmds import run_status

    run_status(_settings(ctx))


@cli.group(help="API tokens for integrations (Authorization: Bearer TOKEN), stored hashed in the service database.")
def token() -> None:
    pass


@token.command(name="create", help="Create a token and print it once. Scopes: read, suggest, links:write, "
               "reports, admin (admin implies all).")
@click.option("--name", required=True, help="Unique name, e.g. the integration (letters, digits, . _ -).")
@click.option("--scope", required=True, help="Comma-separated scopes, e.g. read,suggest,links:write.")
@click.option("--expires", type=int, default=None, help="Days until it expires (1-3650; default never).")
@click.pass_context
def token_create(ctx: click.Context, name: str, scope: str, expires: int | None) -> None:
    from kb_cli.access_cmds import run_token_create

    run_token_create(_settings(ctx), name, scope, expires)


@token.command(name="list", help="List tokens (never the tokens themselves): name, state, scopes, expiry.")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of text.")
@click.pass_context
def token_list(ctx: click.Context, as_json: bool) -> None:
    from kb_cli.access_cmds import run_token_list

    run_token_list(_settings(ctx), as_json)


@token.command(name="revoke", help="Revoke a token by name; every server refuses it from its next request on.")
@click.argument("name")
@click.pass_context
def token_revoke(ctx: click.Context, name: str) -> None:
    from kb_cli.access_cmds import run_token_revoke

    run_token_revoke(_settings(ctx), name)


@cli.command(help="Show the audit trail (writes, deletes, authentication failures, token changes), oldest first.")
@click.option("--since", default=None, help="7d, 12h, 30m or an ISO date/time (UTC).")
@click.option("--actor", default=None, help="Only this principal (e.g. cli:root, token:ticket-bot, a user).")
@click.option("--action", default=None, help="Only this action (e.g. token.create, link.delete, auth.failure).")
@click.option("--limit", type=click.IntRange(1, 10000), default=1000, show_default=True, help="The newest N rows.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def audit(ctx: click.Context, since, actor, action, limit: int, as_json: bool) -> None:
    from kb_cli.access_cmds import run_audit

    run_audit(_settings(ctx), since, actor, action, limit, as_json)


@cli.command(help="Erase everything stored about a ticket: its links, suggestion records, report flags and "
             "feedback (audited).")
@click.option("--ticket", required=True, help="The ticket id, e.g. ZD-48121.")
@click.pass_context
def erase(ctx: click.Context, ticket: str) -> None:
    from kb_cli.access_cmds import run_erase

    run_erase(_settings(ctx), ticket)


@cli.command(help="An owner's review queue: open flags, 'not helpful' votes and reviews past due, most urgent first.")
@click.option("--owner", default=None, help="The owning team, as in the articles' front matter (e.g. team-drm); "
              "default: every owner.")
@click.option("--json", "as_json", is_flag=True, help="The queue as one JSON object (as GET /api/review).")
@click.pass_context
def review(ctx: click.Context, owner: str | None, as_json: bool) -> None:
    from kb_cli.review_cmds import run_review

    run_review(_settings(ctx), owner, as_json)


@cli.command(help="Knowledge gaps: the most frequent searches and ticket identifiers that ended in 'no confident "
             "match', by service area, and the top confident queries (only queries asked by at least "
             "gaps_min_callers distinct callers on one day).")
@click.option("--days", type=click.IntRange(1, 365), default=30, show_default=True, help="The last N days (UTC).")
@click.option("--area", default=None, help="Only this service area (e.g. drm).")
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON object (as GET /api/gaps).")
@click.pass_context
def gaps(ctx: click.Context, days: int, area: str | None, as_json: bool) -> None:
    from kb_cli.review_cmds import run_gaps

    run_gaps(_settings(ctx), days, area, as_json)


def main() -> None:  # pragma: no cover - console entry
    cli(obj={})


if __name__ == "__main__":  # pragma: no cover
    main()
