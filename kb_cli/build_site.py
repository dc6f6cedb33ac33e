"""``kb build``: run the MkDocs build (with the kb plugin) and turn its failures into CLI errors."""
from __future__ import annotations

import click

from search.settings import Settings


def build_site(settings: Settings, strict: bool = True, audience: str | None = None) -> None:
    """Build the site into ``settings.site_dir``; raises ClickException listing why it failed.
    ``audience`` (e.g. "customer") builds only that audience's articles (site_builder/audience.py)."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    from mkdocs.exceptions import Abort, ConfigurationError, PluginError

    try:
        config = load_config(config_file=settings.mkdocs_config, strict=strict, site_dir=settings.site_dir)
    except (ConfigurationError, OSError) as exc:
        raise click.ClickException(f"cannot load {settings.mkdocs_config}: {exc}") from None
    if audience:
        if "kb" not in config.plugins:
            raise click.ClickException(f"{settings.mkdocs_config} does not use the kb plugin: --audience needs it")
        config.plugins["kb"].config.audience = audience
    try:
        build(config)
    except PluginError as exc:
        raise click.ClickException(f"build failed:\n{exc}") from None
    except Abort as exc:
        raise click.ClickException(f"build failed ({exc}); the problems are listed above") from None
