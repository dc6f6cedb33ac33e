"""The package boundaries of docs/architecture.md, checked by walking every import with ast."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY_ML = {"torch", "sentence_transformers", "transformers", "onnxruntime", "onnx"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0] if node.module.split(".")[0] != "search" else node.module)
    return names


def _top(names: set[str]) -> set[str]:
    return {n.split(".")[0] for n in names}


def test_site_builder_imports_no_search_code():
    for path in (ROOT / "site_builder").rglob("*.py"):
        bad = _top(_imports(path)) & ({"search", "flask", "faiss", "bm25s", "numpy"} | HEAVY_ML)
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_search_core_imports_no_web_or_site_code():
    for path in (ROOT / "search").rglob("*.py"):
        if "service" in path.relative_to(ROOT / "search").parts:
            continue
        names = _top(_imports(path))
        bad = names & {"flask", "mkdocs", "site_builder", "werkzeug", "gunicorn"}
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"
        if not path.name.startswith("encoder"):
            assert not names & HEAVY_ML, f"{path.relative_to(ROOT)} imports {names & HEAVY_ML} (encoder modules only)"


def test_service_never_builds_an_index_or_reads_markdown():
    service = ROOT / "search" / "service"
    for path in service.rglob("*.py") if service.exists() else []:
        names = _imports(path)
        bad = _top(names) & {"mkdocs", "site_builder", "markdown"} | {n for n in names if n.startswith("search.indexer")}
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_kb_build_does_not_import_torch_or_faiss(tmp_path):
    code = (
        "import sys\n"
        "from kb_cli.main import cli\n"
        f"cli(['build', '--mkdocs-config', {str(ROOT / 'tests/fixtures/kb/mkdocs.yml')!r}, "
        f"'--site-dir', {str(tmp_path / 'site')!r}], standalone_mode=False, obj={{}})\n"
        "loaded = sorted(m for m in ('torch', 'faiss', 'sentence_transformers', 'flask') if m in sys.modules)\n"
        "print('LOADED', loaded)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "LOADED []" in out.stdout
    assert (tmp_path / "site" / "kb-corpus.json").exists()


def test_kb_build_reports_problems_with_nonzero_exit(tmp_path):
    import shutil

    kb = tmp_path / "kb"
    shutil.copytree(ROOT / "tests/fixtures/kb", kb, ignore=shutil.ignore_patterns("site"))
    (kb / "docs/cdn/bad.md").write_text("---\nid: nope\n---\n## x\n", encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "kb_cli.main", "build", "--mkdocs-config", str(kb / "mkdocs.yml"),
                          "--site-dir", str(tmp_path / "site")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "docs/cdn/bad.md:2: id: 'nope' is not of the form" in out.stderr
    assert "docs/cdn/bad.md:1: title: is missing" in out.stderr
    assert "Traceback" not in out.stderr


def test_serving_path_does_not_import_torch(real_settings):
    """The service encodes queries with onnxruntime and reads BM25 from stored arrays: a worker must
    not load torch, nor bm25s with its numba and scipy (memory, start-up)."""
    code = (
        "import sys, dataclasses\n"
        "from search.settings import load_settings\n"
        "from search.service import create_app\n"
        f"s = load_settings(None, {{'site_dir': {str(real_settings.site_dir)!r}, 'data_dir': {str(real_settings.data_dir)!r}}}, environ={{}})\n"
        "app = create_app(s, watch=False)\n"
        "assert app.test_client().get('/api/search?q=6007').status_code == 200\n"
        "bad = sorted(m for m in ('torch', 'sentence_transformers', 'transformers', 'bm25s', 'numba', 'scipy')\n"
        "             if m in sys.modules)\n"
        "print(','.join(bad))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "", f"the service imported {out.stdout.strip()}"


def test_only_the_policy_point_checks_credentials():
    """Views never check tokens or sessions themselves (docs/security.md): outside search/service/auth/,
    no module reads the Authorization header, compares secrets or imports the token/session modules."""
    service = ROOT / "search" / "service"
    for path in service.rglob("*.py"):
        if "auth" in path.relative_to(service).parts:
            continue
        text = path.read_text(encoding="utf-8")
        names = _imports(path)
        assert "Authorization" not in text and "compare_digest" not in text, path.relative_to(ROOT)
        assert not names & {"search.service.auth.tokens", "search.service.auth.sessions", "hmac"}, path.relative_to(ROOT)


def test_the_database_module_imports_no_web_code():
    for path in (ROOT / "search" / "service" / "db").rglob("*.py"):
        bad = _top(_imports(path)) & {"flask", "werkzeug", "authlib"}
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"
