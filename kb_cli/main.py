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


@click.group(help="Video platform support knowledge base: build the site, index it, search and serve it.\n\n"
             "Settings: " + "; ".join(f"{s.name} (KB_{s.name.upper()}, default {s.default!r})" for s in SETTINGS))
@click.option("--config", "config", type=click.Path(dir_okay=False), default=None,
              help="TOML settings file (default: kb.toml when present, or $KB_CONFIG).")
@click.option("-v", "--verbose", is_flag=True, help="More log output.")
@click.pass_context
def cli(ctx: click.Context, config: str | None, verbose: bool) -> None:
    ctx.ensure_object(dict)["config"] = config
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(levelname)-7s %(message)s")


@cli.command(help="Build and validate the static site and the corpus export (same as mkdocs build --strict).")
@click.option("--site-dir", default=None, help="Output directory (setting site_dir).")
@click.option("--mkdocs-config", default=None, help="MkDocs configuration file (setting mkdocs_config).")
@click.option("--no-strict", is_flag=True, help="Do not fail on MkDocs warnings (validation errors still fail).")
@click.pass_context
def build(ctx: click.Context, site_dir: str | None, mkdocs_config: str | None, no_strict: bool) -> None:
    from kb_cli.build_site import build_site

    settings = _settings(ctx, site_dir=site_dir, mkdocs_config=mkdocs_config)
    build_site(settings, strict=not no_strict)
    click.echo(f"Site built in {settings.site_dir}/ (corpus export: {settings.corpus_path})")


def main() -> None:  # pragma: no cover - console entry
    cli(obj={})
