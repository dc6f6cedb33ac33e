"""Layered fixtures: the fixture KB is built once per session into a temporary directory."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_KB = ROOT / "tests" / "fixtures" / "kb"


def build_mkdocs(config_file: Path, site_dir: Path) -> None:
    """Run the real MkDocs build (strict, with the kb plugin)."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    build(load_config(config_file=str(config_file), strict=True, site_dir=str(site_dir)))


@pytest.fixture(scope="session")
def fixture_kb(tmp_path_factory) -> Path:
    """A private copy of the fixture KB (tests may not write into the repository)."""
    dest = tmp_path_factory.mktemp("fixture") / "kb"
    shutil.copytree(FIXTURE_KB, dest, ignore=shutil.ignore_patterns("site"))
    return dest


@pytest.fixture(scope="session")
def fixture_site(fixture_kb: Path) -> Path:
    site = fixture_kb / "site"
    build_mkdocs(fixture_kb / "mkdocs.yml", site)
    return site


@pytest.fixture(scope="session")
def real_settings(fixture_site: Path, tmp_path_factory):
    """Settings of an index of the fixture KB built with the real model (ONNX export included)."""
    from search.indexer import build_index
    from search.settings import load_settings

    data = tmp_path_factory.mktemp("real-index")
    settings = load_settings(None, {"site_dir": str(fixture_site), "data_dir": str(data)}, environ={})
    build_index(settings, progress=False)
    return settings


@pytest.fixture(scope="session")
def real_searcher(real_settings):
    from search.searcher import open_searcher

    return open_searcher(real_settings)


@pytest.fixture
def app(real_settings, real_searcher, tmp_path):
    """A fresh app (own links database) over the session's real-model index."""
    import dataclasses

    from search.service import create_app

    settings = dataclasses.replace(real_settings, api_token="test-token", rate_limit_per_minute=0,
                                   database_url=f"sqlite:///{tmp_path / 'links.db'}")
    return create_app(settings, encoder=real_searcher.encoder, watch=False)


@pytest.fixture
def client(app):
    return app.test_client()


AUTH = {"Authorization": "Bearer test-token"}
