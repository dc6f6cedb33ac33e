"""``kb token`` and ``kb audit``: integration tokens and the audit trail, straight on the service database."""
from __future__ import annotations

import getpass
import json

import click


def cli_actor() -> str:
    """Who runs the command, for the audit trail: the operating-system user."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):   # no passwd entry (some containers)
        return "cli:unknown"


def _engine(settings):
    """The service database, which must be migrated (a new one is created)."""
    from search.service import db
    from search.service.auth import audit

    audit.configure_log(settings.audit_log)
    try:
        engine = db.make_engine(settings.database)
        db.ensure_current(engine, settings.database)
    except db.DatabaseError as exc:
        raise click.ClickException(str(exc)) from None
    return engine


def run_token_create(settings, name: str, scope: str, expires: int | None) -> None:
    from search.service.auth import tokens

    engine = _engine(settings)
    try:
        token, info = tokens.create(engine, name, tokens.parse_scopes(scope), expires, cli_actor())
    except tokens.TokenError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    click.echo(f"Token {info.name!r} (scopes {', '.join(sorted(info.scopes))}; "
               f"{'expires ' + info.expires_at if info.expires_at else 'never expires'}). "
               "It is shown only now; store it in the integration's secret store:", err=True)
    click.echo(token)


def run_token_list(settings, as_json: bool) -> None:
    from search.service.auth import tokens

    engine = _engine(settings)
    try:
        found = tokens.list_tokens(engine)
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps([t.to_json() for t in found], indent=2))
        return
    if not found:
        click.echo("No API tokens. Create one with: kb token create --name NAME --scope read")
    for t in found:
        click.echo(f"{t.name:24} {t.state:8} {','.join(sorted(t.scopes)):36} created {t.created_at} by "
                   f"{t.created_by}; expires {t.expires_at or 'never'}")


def run_token_revoke(settings, name: str) -> None:
    from search.service.auth import tokens

    engine = _engine(settings)
    try:
        info = tokens.revoke(engine, name, cli_actor())
    except tokens.TokenError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    click.echo(f"Token {info.name!r} revoked at {info.revoked_at}; the next request using it is refused.")


def run_audit(settings, since: str | None, actor: str | None, action: str | None, limit: int, as_json: bool) -> None:
    from search.service.auth import audit

    try:
        since_at = audit.parse_since(since) if since else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    engine = _engine(settings)
    try:
        found = audit.rows(engine, since_at, actor, action, limit)
    finally:
        engine.dispose()
    for row in found:
        if as_json:
            click.echo(json.dumps(row.to_json(), sort_keys=True))
        else:
            detail = " ".join(f"{k}={v}" for k, v in sorted(row.detail.items()))
            click.echo(f"{row.at}  {row.actor:20} {row.action:16} {row.outcome:7} {row.target:24} "
                       f"{row.client:15} {detail}".rstrip())


def run_erase(settings, ticket: str) -> None:
    """Erase everything stored about one ticket (links, suggestion records, its report flags), audited."""
    from search.service.auth import audit
    from search.service.erasure import canonical
    from search.service.links import StoreBusy, StoreError, open_store
    from search.service.ticket_ids import InvalidId

    try:
        ticket_id = canonical(ticket)
    except InvalidId as exc:
        raise click.BadParameter(str(exc), param_hint="--ticket") from None
    engine = _engine(settings)
    try:
        store = open_store(settings.database)
        erased = store.erase_ticket(ticket_id)
        store.close()
        audit.record(engine, cli_actor(), "ticket.erase", "", "cli", **erased)
    except (StoreError, StoreBusy) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    click.echo(f"Erased ticket {ticket_id}: {erased['links']} links, {erased['suggestions']} suggestion records, "
               f"{erased['suggested_tickets']} report row(s), {erased['feedback']} feedback row(s).")
