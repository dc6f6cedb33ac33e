"""The client's address behind reverse proxies that the ``trusted_proxies`` setting names.

Without it the rate limiter keyed on the TCP peer, so behind a proxy every user shared the proxy's
one bucket. ``TrustedProxies`` (WSGI middleware, outermost) replaces ``REMOTE_ADDR`` — which the rate
limiter and the logs use — with the client the proxies saw: it walks ``X-Forwarded-For`` from the
right (the hop the nearest proxy appended) and stops at the first address that is not a trusted
proxy. A peer that is not trusted is the client whatever it sends, and addresses a client wrote into
the header itself (left of the first untrusted hop) are never believed. The peer's own address stays
in ``environ["kb.proxy_addr"]``.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(items: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in items)


def _ip(text: str):
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _trusted(address, networks: tuple[Network, ...]) -> bool:
    return address is not None and any(address in network for network in networks)


def client_address(peer: str, forwarded_for: str, networks: tuple[Network, ...]) -> str:
    """The client's address: ``peer`` unless it is a trusted proxy, then the right-most address of
    ``forwarded_for`` that is not one (all trusted: the left-most). An entry that is not an IP
    address ends the walk at the last address known to be good."""
    address = peer
    if not _trusted(_ip(peer), networks):
        return address
    for hop in reversed([h for h in forwarded_for.split(",") if h.strip()]):
        ip = _ip(hop)
        if ip is None:
            return address
        address = str(ip)
        if not _trusted(ip, networks):
            return address
    return address


class TrustedProxies:
    def __init__(self, wsgi_app, trusted: Iterable[str]):
        self.wsgi_app, self.networks = wsgi_app, parse_networks(trusted)

    def __call__(self, environ, start_response):
        peer = environ.get("REMOTE_ADDR", "")
        environ["kb.proxy_addr"] = peer
        environ["REMOTE_ADDR"] = client_address(peer, environ.get("HTTP_X_FORWARDED_FOR", ""), self.networks)
        return self.wsgi_app(environ, start_response)
