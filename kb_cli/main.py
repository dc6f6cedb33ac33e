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


@cli.command(help="Serve the built site on 127.0.0.1 (default port 8000).")
@click.option("--host", default=None, help="Bind address (setting host).")
@click.option("--port", type=int, default=None, help="Port (setting port).")
@click.option("--site-dir", default=None, help="Built site directory (setting site_dir).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, site_dir: str | None) -> None:
    import functools
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
    from pathlib import Path

    settings = _settings(ctx, host=host, port=port, site_dir=site_dir)
    if not (Path(settings.site_dir) / "index.html").exists():
        raise click.ClickException(f"no built site in {settings.site_dir}/: run 'kb build' first")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=settings.site_dir)
    try:
        server = ThreadingHTTPServer((settings.host, settings.port), handler)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}") from None
    click.echo(f"Serving {settings.site_dir}/ on http://{settings.host}:{settings.port}/")
    server.serve_forever()


def main() -> None:  # pragma: no cover - console entry
    cli(obj={})


if __name__ == "__main__":  # pragma: no cover
    main()
