"""Index builds: manifest, checksums, atomic publication, incremental reuse, garbage collection.

Uses the deterministic fake encoder (plumbing only); retrieval quality is tested with the real model."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from search import store
from search.build import LoadedBuild
from search.corpus import parse_corpus
from search.errors import IndexIntegrityError, SearchError
from search.indexer import build_index
from search.settings import load_settings
from tests.fake_encoder import FakeEncoder

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def settings(fixture_site, tmp_path):
    return load_settings(None, {"site_dir": str(fixture_site), "data_dir": str(tmp_path / "data"),
                                "keep_builds": 2}, environ={})


def _fingerprint(settings) -> str:
    return store.read_manifest(store.current_dir(settings.index_path))["model"]["fingerprint"]


def test_build_writes_manifest_and_no_pickle(settings):
    report = build_index(settings, encoder=FakeEncoder(), progress=False)
    directory = store.current_dir(settings.index_path)
    manifest = store.verify(directory)
    assert manifest["build_id"] == report.build_id == directory.name
    for key in ("schema_version", "created_at", "model", "dim", "chunker_version", "corpus_sha256", "files"):
        assert key in manifest
    assert manifest["dim"] == 32 and manifest["counts"]["chunks"] == report.chunks > 0
    assert set(manifest["files"]) == {p.name for p in directory.iterdir() if p.name != "manifest.json"}
    for npy in directory.glob("*.npy"):
        np.load(npy, allow_pickle=False)  # raises if anything needed pickle
    assert not list(directory.glob("*.pkl")) and not list(directory.glob("*.pickle"))
    LoadedBuild.open(directory, expect_model=manifest["model"]["fingerprint"], expect_dim=32)


BUILD_IN_SUBPROCESS = """
import json, sys
from search.indexer import build_index
from search.settings import load_settings
from tests.fake_encoder import FakeEncoder
settings = load_settings(None, {"site_dir": sys.argv[1], "data_dir": sys.argv[2]}, environ={})
build_index(settings, encoder=FakeEncoder(), progress=False)
"""


def test_builds_are_byte_reproducible_across_hash_seeds(fixture_site, tmp_path):
    """Every stored file is the same whatever PYTHONHASHSEED (set and dict orders) the build ran with."""
    hashes = []
    for seed in ("1", "2"):
        data = tmp_path / f"data{seed}"
        subprocess.run([sys.executable, "-c", BUILD_IN_SUBPROCESS, str(fixture_site), str(data)], cwd=ROOT,
                       env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}, check=True, timeout=120)
        hashes.append(store.read_manifest(store.current_dir(data / "index"))["files"])
    assert hashes[0] == hashes[1] and "bm25_vocab.json" in hashes[0] and "identifiers.json" in hashes[0]


def test_unchanged_corpus_is_up_to_date_and_force_reuses_every_vector(settings):
    first = build_index(settings, encoder=FakeEncoder(), progress=False)
    again = build_index(settings, encoder=FakeEncoder(), progress=False)
    assert again.up_to_date and again.build_id == first.build_id
    encoder = FakeEncoder()
    forced = build_index(settings, encoder=encoder, force=True, progress=False)
    assert forced.build_id != first.build_id
    assert (forced.embedded, forced.reused) == (0, first.chunks) and encoder.texts == 0


def test_a_build_of_an_older_article_list_is_rebuilt_reusing_every_vector(settings, monkeypatch):
    """A build whose articles.json predates the review fields (owner, last_reviewed, review interval) is
    not "up to date" for an unchanged corpus: the next kb index rebuilds it, embedding nothing."""
    import json

    from search import indexer

    monkeypatch.setattr(indexer, "ARTICLES_VERSION", 1)
    first = build_index(settings, encoder=FakeEncoder(), progress=False)
    monkeypatch.undo()
    encoder = FakeEncoder()
    again = build_index(settings, encoder=encoder, progress=False)
    assert not again.up_to_date and again.build_id != first.build_id and encoder.texts == 0
    articles = json.loads((store.current_dir(settings.index_path) / "articles.json").read_text())
    assert {"owner", "last_reviewed", "review_interval_days"} <= set(articles[0])
    assert build_index(settings, encoder=FakeEncoder(), progress=False).up_to_date


def test_incremental_rebuild_embeds_only_the_changed_article(settings):
    build_index(settings, encoder=FakeEncoder(), progress=False)
    doc = json.loads(settings.corpus_path.read_text(encoding="utf-8"))
    target = doc["articles"][0]
    for section in target["sections"]:
        section["text"] += " Edited for the incremental test."
    corpus = parse_corpus(doc)
    encoder = FakeEncoder()
    report = build_index(settings, encoder=encoder, corpus=corpus, progress=False)
    changed = [c for c in json.loads((store.current_dir(settings.index_path) / "chunks.json").read_text())
               if c["article_id"] == target["id"]]
    assert report.embedded == len(changed) == encoder.texts > 0
    assert report.reused == report.chunks - len(changed) > 0


def _corrupt(directory: Path, how: str) -> str:
    if how == "truncated":
        path = directory / "vectors.npy"
        path.write_bytes(path.read_bytes()[:-100])
        return "vectors.npy"
    if how == "flipped":
        path = directory / "chunks.json"
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
        return "chunks.json"
    if how == "zero-length":
        (directory / "bm25_data.npy").write_bytes(b"")
        return "bm25_data.npy"
    if how == "missing":
        (directory / "identifiers.json").unlink()
        return "identifiers.json"
    if how == "manifest":
        (directory / "manifest.json").write_text("{not json", encoding="utf-8")
        return "manifest.json"
    raise AssertionError(how)


@pytest.mark.parametrize("how", ["truncated", "flipped", "zero-length", "missing", "manifest"])
def test_corrupt_build_is_rejected_naming_the_file(settings, how):
    build_index(settings, encoder=FakeEncoder(), progress=False)
    directory = store.current_dir(settings.index_path)
    name = _corrupt(directory, how)
    with pytest.raises(IndexIntegrityError) as err:
        LoadedBuild.open(directory)
    assert name in str(err.value) and "kb index" in str(err.value)


def test_wrong_model_and_wrong_dimension_are_rejected(settings):
    build_index(settings, encoder=FakeEncoder(), progress=False)
    directory = store.current_dir(settings.index_path)
    with pytest.raises(IndexIntegrityError, match="model"):
        LoadedBuild.open(directory, expect_model="0" * 64)
    with pytest.raises(IndexIntegrityError, match="dimension 32"):
        LoadedBuild.open(directory, expect_dim=384)


def test_garbage_collection_keeps_the_newest_builds(settings):
    ids = [build_index(settings, encoder=FakeEncoder(), force=True, progress=False).build_id for _ in range(4)]
    kept = sorted(p.name for p in (settings.index_path / "builds").iterdir())
    assert kept == sorted(ids[-2:]) and store.current_build_id(settings.index_path) == ids[-1]


def test_missing_corpus_export_is_a_clear_error(tmp_path):
    settings = load_settings(None, {"site_dir": str(tmp_path / "nosite"), "data_dir": str(tmp_path)}, environ={})
    with pytest.raises(SearchError, match="kb-corpus.json.*kb build"):
        build_index(settings, encoder=FakeEncoder(), progress=False)


KILL_SCRIPT = """
import sys
sys.path.insert(0, {root!r})
from tests.fake_encoder import FakeEncoder
from search.indexer import build_index
from search.settings import load_settings
from search.corpus import parse_corpus
import json
settings = load_settings(None, {{"site_dir": {site!r}, "data_dir": {data!r}}}, environ={{}})
doc = json.loads(settings.corpus_path.read_text(encoding="utf-8"))
for article in doc["articles"]:
    for section in article["sections"]:
        section["text"] += " changed"          # nothing reusable: the builder must embed
build_index(settings, encoder=FakeEncoder(delay=2.0), corpus=parse_corpus(doc), progress=False)
"""


def test_killed_build_never_changes_what_is_served(settings, tmp_path):
    old = build_index(settings, encoder=FakeEncoder(), progress=False).build_id
    script = tmp_path / "slow_build.py"
    script.write_text(KILL_SCRIPT.format(root=str(ROOT), site=settings.site_dir, data=settings.data_dir))
    proc = subprocess.Popen([sys.executable, str(script)])
    try:
        deadline = time.monotonic() + 60
        while not list(settings.index_path.glob(".tmp-*")) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)  # well inside the write phase or embedding (each batch sleeps 2 s)
        assert proc.poll() is None, "the slow build finished before it could be killed"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert store.current_build_id(settings.index_path) == old
    store.verify(store.current_dir(settings.index_path))
    report = build_index(settings, encoder=FakeEncoder(), force=True, progress=False)
    assert report.removed_leftovers and not list(settings.index_path.glob(".tmp-*"))
    assert store.current_build_id(settings.index_path) == report.build_id


@pytest.mark.parametrize("pointer", [b"\xff\xfe../../etc\n", b"../../etc\n", b"builds/x y\n"])
def test_a_corrupt_current_pointer_is_named_never_followed_and_replaced_by_the_next_build(settings, pointer):
    from search.service.holder import IndexHolder
    from search.searcher import open_searcher

    first = build_index(settings, encoder=FakeEncoder(), progress=False)
    holder = IndexHolder(settings, encoder=FakeEncoder())
    assert holder.refresh() and holder.searcher.build.build_id == first.build_id
    (settings.index_path / "current").write_bytes(pointer)
    with pytest.raises(IndexIntegrityError, match=r"current: .*(unreadable|is not a build id).*; run 'kb index'"):
        store.current_build_id(settings.index_path)
    with pytest.raises(SearchError, match="current"):
        open_searcher(settings, encoder=FakeEncoder(), fingerprint=_fingerprint_of(settings, first.build_id))
    assert not holder.refresh() and holder.searcher.build.build_id == first.build_id   # keeps serving
    assert "current" in holder.error
    again = build_index(settings, encoder=FakeEncoder(), progress=False)   # not "up to date": publishes anew
    assert not again.up_to_date and store.current_build_id(settings.index_path) == again.build_id
    assert holder.refresh() and holder.searcher.build.build_id == again.build_id and holder.error is None


def _fingerprint_of(settings, build_id: str) -> str:
    return store.read_manifest(settings.index_path / "builds" / build_id)["model"]["fingerprint"]
