"""No pickle, unsafe YAML, torch.load or eval of untrusted files anywhere; safetensors weights
only; every dependency pinned.

The code check walks the syntax tree (``ast``) of every ``.py`` file of the project packages,
resolving import aliases (``import numpy as np``, ``from yaml import load``), so it sees calls
rather than text: a comment or a string that mentions ``pickle.loads`` is not flagged, a renamed
import is.
"""
from __future__ import annotations

import ast
import re
import shutil
import tomllib
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGES = ("search", "site_builder", "kb_cli", "scripts")
PICKLE_MODULES = {"pickle", "cPickle", "_pickle", "cloudpickle", "dill", "joblib", "shelve"}
ALWAYS_BAD_CALLS = {
    "pickle.load", "pickle.loads", "pickle.Unpickler", "marshal.load", "marshal.loads", "torch.load",
    "yaml.unsafe_load", "yaml.unsafe_load_all", "yaml.full_load", "yaml.full_load_all", "pandas.read_pickle",
    "numpy.lib.format.read_array", "eval", "exec", "builtins.eval", "builtins.exec",
}
UNSAFE_YAML_LOADERS = {"Loader", "UnsafeLoader", "FullLoader", "CLoader", "CUnsafeLoader", "CFullLoader"}
SAFE_YAML_LOADERS = {"yaml.SafeLoader", "yaml.CSafeLoader", "yaml.BaseLoader", "yaml.CBaseLoader"}


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    """``np.load`` → ``numpy.load`` given ``import numpy as np``; None for anything not a name chain."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(aliases.get(node.id, node.id))
    return ".".join(reversed(parts))


def _keyword(call: ast.Call, name: str, position: int | None = None) -> ast.AST | None:
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    if position is not None and len(call.args) > position:
        return call.args[position]
    return None


def _is_true(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def unsafe_loads(source: str, filename: str = "<string>") -> list[str]:
    """Every pickle / unsafe-YAML / torch.load / eval-style use in ``source``, as ``file:line: what``."""
    tree = ast.parse(source, filename)
    aliases: dict[str, str] = {}
    found: list[tuple[int, str]] = []

    def flag(node: ast.AST, what: str) -> None:
        found.append((node.lineno, what))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                aliases[(alias.asname or alias.name).split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
                if alias.name.split(".")[0] in PICKLE_MODULES:
                    flag(node, f"import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            if node.module.split(".")[0] in PICKLE_MODULES:
                flag(node, f"from {node.module} import …")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) or isinstance(node, ast.Name):
            name = _dotted(node, aliases)
            if name and name.startswith("yaml.") and name.split(".")[-1] in UNSAFE_YAML_LOADERS:
                flag(node, f"unsafe YAML loader {name}")
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func, aliases)
        if name is None:
            continue
        if name in ALWAYS_BAD_CALLS:
            flag(node, f"{name}(…)")
        elif name in ("numpy.load", "numpy.lib.npyio.load"):
            allow = _keyword(node, "allow_pickle", 2)
            if allow is not None and not (isinstance(allow, ast.Constant) and allow.value is False):
                flag(node, f"{name}(…, allow_pickle={ast.unparse(allow)})")
        elif name in ("yaml.load", "yaml.load_all"):
            loader = _keyword(node, "Loader", 1)
            if loader is None or _dotted(loader, aliases) not in SAFE_YAML_LOADERS:
                flag(node, f"{name}(…) without Loader=yaml.SafeLoader")
        elif name in ("__import__", "importlib.import_module") and node.args:
            target = node.args[0]
            if isinstance(target, ast.Constant) and str(target.value).split(".")[0] in PICKLE_MODULES:
                flag(node, f"{name}({target.value!r})")
        elif name.endswith(".from_pretrained") and not _is_true(_keyword(node, "use_safetensors")):
            flag(node, f"{name}(…) without use_safetensors=True (would fall back to pytorch_model.bin)")
        elif name.split(".")[-1] == "SentenceTransformer":
            kwargs = _keyword(node, "model_kwargs")
            ok = isinstance(kwargs, ast.Dict) and any(
                isinstance(k, ast.Constant) and k.value == "use_safetensors" and _is_true(v)
                for k, v in zip(kwargs.keys, kwargs.values))
            if not ok:
                flag(node, "SentenceTransformer(…) without model_kwargs={'use_safetensors': True}")
    return [f"{filename}:{line}: {what}" for line, what in sorted(found)]


def project_files() -> list[Path]:
    files = [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]
    assert len(files) >= 30, files
    return files


def test_no_unsafe_deserialisation_in_the_project():
    found = [hit for path in project_files()
             for hit in unsafe_loads(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))]
    assert found == []


@pytest.mark.parametrize("source,expected", [
    ("import pickle\npickle.loads(x)\n", ["<string>:1: import pickle", "<string>:2: pickle.loads(…)"]),
    ("from pickle import loads as l\nl(x)\n", ["<string>:1: from pickle import …", "<string>:2: pickle.loads(…)"]),
    ("import numpy as np\nnp.load(f, allow_pickle=True)\n", ["<string>:2: numpy.load(…, allow_pickle=True)"]),
    ("import numpy as np\nnp.load(f, None, flag)\n", ["<string>:2: numpy.load(…, allow_pickle=flag)"]),
    ("import numpy as np\nnp.load(f)\nnp.load(f, allow_pickle=False)\n", []),
    ("import yaml\nyaml.load(s)\n", ["<string>:2: yaml.load(…) without Loader=yaml.SafeLoader"]),
    ("import yaml\nyaml.load(s, Loader=yaml.Loader)\n",
     ["<string>:2: unsafe YAML loader yaml.Loader", "<string>:2: yaml.load(…) without Loader=yaml.SafeLoader"]),
    ("import yaml\nyaml.load(s, yaml.CSafeLoader)\nyaml.safe_load(s)\nyaml.parse(s, Loader=yaml.SafeLoader)\n", []),
    ("from yaml import full_load\nfull_load(s)\n", ["<string>:2: yaml.full_load(…)"]),
    ("import yaml as y\ny.unsafe_load(s)\n", ["<string>:2: yaml.unsafe_load(…)"]),
    ("import torch\ntorch.load(p, weights_only=True)\n", ["<string>:2: torch.load(…)"]),
    ("import marshal\nmarshal.loads(b)\n", ["<string>:2: marshal.loads(…)"]),
    ("eval(s)\nexec(s)\nmodel.eval()\n", ["<string>:1: eval(…)", "<string>:2: exec(…)"]),
    ("import joblib, shelve\n", ["<string>:1: import joblib", "<string>:1: import shelve"]),
    ("__import__('pickle')\n", ["<string>:1: __import__('pickle')"]),
    ("AutoModel.from_pretrained(p)\nAutoModel.from_pretrained(p, use_safetensors=True)\n",
     ["<string>:1: AutoModel.from_pretrained(…) without use_safetensors=True (would fall back to pytorch_model.bin)"]),
    ("SentenceTransformer(p)\nSentenceTransformer(p, model_kwargs={'use_safetensors': True})\n",
     ["<string>:1: SentenceTransformer(…) without model_kwargs={'use_safetensors': True}"]),
    ("x = 'pickle.loads(y)'  # pickle.loads in a comment\n", []),
])
def test_checker_self_check(source, expected):
    assert unsafe_loads(source) == expected


def test_the_checker_sees_the_encoder_modules():
    """The safetensors rules are not vacuous: the project's own model-loading calls are checked."""
    tree = ast.parse((ROOT / "search" / "encoder_torch.py").read_text(encoding="utf-8"))
    called = {ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    assert "SentenceTransformer" in called and "AutoModel.from_pretrained" in called


# --- the model --------------------------------------------------------------------------------

def _bundled_model_dir() -> Path:
    from search.encoder import DEFAULT_MODEL, resolve_model

    return resolve_model(DEFAULT_MODEL).path


def test_bundled_model_ships_safetensors_and_no_pickled_weights():
    path = _bundled_model_dir()
    assert (path / "model.safetensors").stat().st_size > 10_000_000
    pickled = [p.name for pattern in ("*.bin", "*.pt", "*.pth", "*.ckpt", "*.pkl") for p in path.rglob(pattern)]
    assert pickled == []


def _model_copy(tmp_path: Path) -> Path:
    """The bundled model, linked file by file into a directory a test may add files to."""
    source = _bundled_model_dir()
    copy = tmp_path / "model"
    for item in source.rglob("*"):
        if item.is_file() and "onnx" not in item.relative_to(source).parts:
            (copy / item.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
            (copy / item.relative_to(source)).symlink_to(item)
    return copy


def test_a_model_with_only_pickled_weights_in_a_module_is_refused(tmp_path):
    from search.encoder import resolve_model
    from search.errors import SearchError

    model = _model_copy(tmp_path)
    (model / "2_Dense").mkdir()
    (model / "2_Dense" / "pytorch_model.bin").write_bytes(b"not a pickle; never to be read")
    with pytest.raises(SearchError, match=r"pickled weights without safetensors beside them \(2_Dense/pytorch_model.bin\)"):
        resolve_model(str(model))
    (model / "model.safetensors").unlink()
    shutil.rmtree(model / "2_Dense")
    with pytest.raises(SearchError, match="model.safetensors"):
        resolve_model(str(model))


@pytest.mark.slow
def test_the_torch_encoder_never_calls_torch_load(tmp_path, monkeypatch):
    """A booby-trapped pytorch_model.bin beside model.safetensors is never opened: torch.load is
    not called at all while the model loads, and the vectors match the bundled model's. Without
    model.safetensors the encoder refuses (even handed the directory past resolve_model)."""
    import numpy as np
    import torch

    from search.encoder import DEFAULT_MODEL, ModelInfo, resolve_model
    from search.encoder_torch import TorchEncoder

    model = _model_copy(tmp_path)
    (model / "pytorch_model.bin").write_bytes(b"\x80\x04 not a real pickle: loading this must never happen")
    calls = []
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *args, **kwargs: calls.append(args) or real_load(*args, **kwargs))
    trapped = TorchEncoder(resolve_model(str(model)))
    bundled = TorchEncoder(resolve_model(DEFAULT_MODEL))
    assert calls == []
    text = ["fragLoadError 403 on HLS segments"]
    np.testing.assert_allclose(trapped.encode(text), bundled.encode(text), atol=1e-6)
    (model / "model.safetensors").unlink()
    with pytest.raises(OSError, match="model.safetensors"):
        TorchEncoder(ModelInfo("trapped", model, "unused"))
    assert calls == []


# --- pinned dependencies ----------------------------------------------------------------------

PIN_RE = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(?P<version>[A-Za-z0-9.+!_-]+)")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _lock() -> dict[str, str]:
    pins = {}
    for number, line in enumerate((ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = PIN_RE.fullmatch(line)
        assert match, f"requirements.lock:{number}: {line!r} is not an exact 'name==version' pin"
        assert _normal(match["name"]) not in pins, f"requirements.lock:{number}: {match['name']} pinned twice"
        pins[_normal(match["name"])] = match["version"]
    return pins


def _requirement(spec: str) -> tuple[str, str | None]:
    match = re.fullmatch(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(?:==\s*([^\s;,]+))?\s*", spec)
    assert match, f"pyproject.toml: dependency {spec!r} is neither a bare name nor pinned with =="
    return _normal(match[1]), match[2]


def test_requirements_lock_pins_every_line_exactly():
    pins = _lock()
    assert len(pins) >= 50


def test_every_pyproject_dependency_is_locked_at_the_same_version():
    """torch is the documented exception: scripts/setup installs it first, at the pyproject pin,
    so the CPU build is used (the lock is frozen without it)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = _lock()
    setup = (ROOT / "scripts" / "setup").read_text(encoding="utf-8")
    specs = list(project["dependencies"]) + [d for group in project.get("optional-dependencies", {}).values() for d in group]
    for spec in specs:
        name, version = _requirement(spec)
        if name == "torch":
            assert version and f"pip install -q torch=={version}" in setup, "scripts/setup must install the pinned torch"
            assert "torch" not in pins
            continue
        assert name in pins, f"{spec}: not in requirements.lock"
        assert version in (None, pins[name]), f"{spec}: requirements.lock has {name}=={pins[name]}"
    assert "pip install -q -r requirements.lock" in setup
