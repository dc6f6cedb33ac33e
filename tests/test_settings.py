"""The settings table: precedence, and bad values refused with the setting and its source named."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from search.settings import SETTINGS, SettingsError, load_settings

ROOT = Path(__file__).resolve().parent.parent


def test_precedence_defaults_config_environment_flags(tmp_path):
    config = tmp_path / "kb.toml"
    config.write_text('workers = 3\nport = 9000\nkeep_builds = 5\n', encoding="utf-8")
    settings = load_settings(str(config), {"port": 9100}, environ={"KB_WORKERS": "4"})
    assert (settings.keep_builds, settings.workers, settings.port, settings.host) == (5, 4, 9100, "127.0.0.1")


@pytest.mark.parametrize("name, value, message", [
    ("KB_WORKERS", "0", "setting 'workers' from environment KB_WORKERS: '0' is outside 1..64"),
    ("KB_WORKERS", "100000", "outside 1..64"),          # would fork a hundred thousand processes
    ("KB_WORKERS", "two", "'two' is not a valid int"),
    ("KB_PORT", "70000", "setting 'port' from environment KB_PORT: '70000' is outside 1..65535"),
    ("KB_KEEP_BUILDS", "0", "outside 1..1000"),
    ("KB_RELOAD_INTERVAL", "-1", "outside 0..3600"),
    ("KB_RELOAD_INTERVAL", "nan", "outside 0..3600"),
    ("KB_RATE_LIMIT_PER_MINUTE", "-5", "outside 0..1e+09"),
    ("KB_ENCODER_BACKEND", "gpu", "'gpu' is not auto, onnx or torch"),
])
def test_bad_environment_values_name_the_setting(name, value, message):
    with pytest.raises(SettingsError, match=re.escape(message)):
        load_settings(None, environ={name: value})


def test_bad_config_and_flag_values_name_their_source(tmp_path):
    config = tmp_path / "kb.toml"
    config.write_text("workers = 0\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=re.escape(f"setting 'workers' from config file {config}: 0 is outside 1..64")):
        load_settings(str(config), environ={})
    with pytest.raises(SettingsError, match=re.escape("setting 'port' from option --port: 0 is outside 1..65535")):
        load_settings(None, {"port": 0}, environ={})


def test_every_setting_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [s.name for s in SETTINGS if f"`{s.name}`" not in readme]
    assert not missing, f"settings missing from README's Configuration table: {missing}"


@pytest.mark.parametrize("command", ["index", "serve"])
def test_a_data_dir_that_is_not_a_directory_is_one_message_naming_it(command, tmp_path, fixture_site):
    """A path setting that cannot be used (here: under a regular file) ends the command with the path
    and the settings to check — exit 1, no traceback."""
    import os
    import subprocess
    import sys

    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    env = {**os.environ, "KB_DATA_DIR": str(blocker / "data"), "KB_SITE_DIR": str(fixture_site),
           "PYTHONPATH": str(ROOT)}
    from tests.conftest import free_port

    args = ["serve", "--port", str(free_port())] if command == "serve" else [command]
    proc = subprocess.run([sys.executable, "-m", "kb_cli.main", *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert f"{blocker / 'data'}" in proc.stderr and "Not a directory" in proc.stderr and "data_dir" in proc.stderr
