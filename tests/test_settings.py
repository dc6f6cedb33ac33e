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
