"""``kb db``: migrate the service database and show where it stands."""
from __future__ import annotations

import click


def _engine(settings):
    from search.service import db

    try:
        return db.make_engine(settings.database)
    except db.DatabaseError as exc:
        raise click.ClickException(str(exc)) from None


def run_upgrade(settings) -> None:
    from search.service import db
    from search.service.db.engine import describe

    engine = _engine(settings)
    try:
        before, after = db.upgrade(engine, settings.database)
    except db.DatabaseError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    where = describe(settings.database)
    if before == after:
        click.echo(f"Database {where} is up to date (revision {after}).")
    else:
        click.echo(f"Database {where} migrated from {before or 'no revision'} to revision {after}.")


def run_status(settings) -> None:
    from search.service import db
    from search.service.db.engine import describe

    engine = _engine(settings)
    try:
        found = db.status(engine)
    except db.DatabaseError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    state = "up to date" if found.up_to_date else ("new (empty)" if found.empty else "needs 'kb db upgrade'")
    click.echo(f"Database {describe(settings.database)}: revision {found.current or 'none'}, "
               f"newest {found.head}: {state}.")
