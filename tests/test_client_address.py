"""The client address behind trusted proxies: what the rate limiter keys on (issue 17, item 11)."""
from __future__ import annotations

import dataclasses

import pytest

from search.service.client_address import client_address, parse_networks
from search.settings import SettingsError, load_settings

TRUSTED = parse_networks(["127.0.0.1", "10.0.0.0/8", "fd00::/8"])


@pytest.mark.parametrize("peer, forwarded, client", [
    ("203.0.113.9", "", "203.0.113.9"),                              # no proxy
    ("203.0.113.9", "198.51.100.1", "203.0.113.9"),                  # an untrusted peer cannot claim another address
    ("127.0.0.1", "", "127.0.0.1"),                                  # the proxy itself (a health check)
    ("127.0.0.1", "198.51.100.1", "198.51.100.1"),
    ("127.0.0.1", "6.6.6.6, 198.51.100.1", "198.51.100.1"),          # the client's own header entry is ignored
    ("127.0.0.1", "198.51.100.1, 10.1.2.3", "198.51.100.1"),         # two proxies: skip the trusted hop
    ("127.0.0.1", "10.9.9.9, 10.1.2.3", "10.9.9.9"),                 # all trusted: the left-most
    ("127.0.0.1", "garbage, 10.1.2.3", "10.1.2.3"),                  # not an address: stop at the last good one
    ("127.0.0.1", "2001:db8::1 , [fd00::5]", "2001:db8::1"),
    ("127.0.0.1", " , ,198.51.100.7,", "198.51.100.7"),
])
def test_walks_x_forwarded_for_from_the_right(peer, forwarded, client):
    assert client_address(peer, forwarded, TRUSTED) == client


def test_setting_accepts_lists_and_comma_separated_and_names_bad_entries(tmp_path):
    config = tmp_path / "kb.toml"
    config.write_text('trusted_proxies = ["127.0.0.1", "10.0.0.0/8"]\n', encoding="utf-8")
    assert load_settings(str(config), environ={}).trusted_proxies == ("127.0.0.1/32", "10.0.0.0/8")
    assert load_settings(None, environ={"KB_TRUSTED_PROXIES": "::1, 192.168.1.0/24"}).trusted_proxies == \
        ("::1/128", "192.168.1.0/24")
    assert load_settings(None, environ={}).trusted_proxies == ()
    with pytest.raises(SettingsError, match="setting 'trusted_proxies' from environment KB_TRUSTED_PROXIES: "
                                            "'proxy.internal' is not an IP address"):
        load_settings(None, environ={"KB_TRUSTED_PROXIES": "127.0.0.1,proxy.internal"})


def _limited_app(real_settings, real_searcher, tmp_path, trusted):
    from search.service import create_app

    settings = dataclasses.replace(real_settings, rate_limit_per_minute=2, trusted_proxies=trusted,
                                   data_dir=str(tmp_path), database_url=f"sqlite:///{tmp_path / 'links.db'}",
                                   index_root=str(real_settings.index_path))
    return create_app(settings, encoder=real_searcher.encoder, watch=False).test_client()


def _statuses(client, forwarded_for: str, n: int = 3) -> list[int]:
    return [client.get("/api/search?q=6007", headers={"X-Forwarded-For": forwarded_for},
                       environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code for _ in range(n)]


def test_behind_a_trusted_proxy_each_client_has_its_own_bucket(real_settings, real_searcher, tmp_path):
    client = _limited_app(real_settings, real_searcher, tmp_path, ("127.0.0.1",))
    assert _statuses(client, "127.0.0.21") == [200, 200, 429]
    assert _statuses(client, "127.0.0.22") == [200, 200, 429]            # another user: not limited by the first
    assert _statuses(client, "1.1.1.1, 127.0.0.22", 1) == [429]          # a forged left-most entry changes nothing


def test_without_trusted_proxies_the_header_is_ignored(real_settings, real_searcher, tmp_path):
    client = _limited_app(real_settings, real_searcher, tmp_path, ())
    assert _statuses(client, "127.0.0.21") == [200, 200, 429]
    assert _statuses(client, "127.0.0.22", 1) == [429]                   # one peer, one bucket
