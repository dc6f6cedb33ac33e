"""``auth = proxy``: the user's identity from the headers an authenticating reverse proxy sets
(oauth2-proxy's ``X-Forwarded-User`` and ``X-Forwarded-Groups`` by default; the settings
``proxy_user_header`` and ``proxy_groups_header``), believed only when the TCP peer is one of the
``trusted_proxies``. Groups map to roles through ``oidc_role_groups``, as a login's groups claim does.

The proxy must set the user header on every request it forwards and drop any copy the client sent
(docs/deployment.md); this module's part is to refuse the header from anyone else: such a request
is a 401, audited, and counts towards the per-client failure throttle like a wrong token.
"""
from __future__ import annotations

import functools
import ipaddress
import re

from search.service.auth.principals import Principal, roles_from_groups, scopes_of_roles

MAX_USER = 200          # characters of a user name
MAX_GROUPS = 200        # groups read from the groups header (the rest are ignored)
MAX_GROUP = 200         # characters of one group name
USER_RE = re.compile(r"[^\x00-\x1f\x7f,;]{1,%d}" % MAX_USER)


class UntrustedIdentity(Exception):
    """An identity header the service must not believe; the message says why (for the audit row)."""


def peer_of(req) -> str:
    """The TCP peer of ``req``: the address before ``TrustedProxies`` replaced it with the client's."""
    return req.environ.get("kb.proxy_addr") or req.remote_addr or ""


@functools.lru_cache(maxsize=8)
def _networks(trusted: tuple[str, ...]):
    return tuple(ipaddress.ip_network(network, strict=False) for network in trusted)


def peer_trusted(peer: str, trusted: tuple[str, ...]) -> bool:
    try:
        address = ipaddress.ip_address(peer.strip().strip("[]"))
    except ValueError:   # a Unix socket or an in-process call has no address: not a proxy
        return False
    return any(address in network for network in _networks(tuple(trusted)))


def as_utf8(value: str) -> str:
    """WSGI hands header bytes over as Latin-1 text; oauth2-proxy sends UTF-8 (José, not JosÃ©)."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def groups_of(header: str) -> list[str]:
    """oauth2-proxy joins groups with commas; blanks and over-long names are dropped."""
    names = (g.strip() for g in header.split(",")[:MAX_GROUPS])
    return [g for g in names if g and len(g) <= MAX_GROUP]


def principal(settings, req) -> Principal | None:
    """The user the proxy vouches for, None when no identity header came; UntrustedIdentity when one
    came from a peer that is not a trusted proxy, or is not a usable user name."""
    user = req.headers.get(settings.proxy_user_header, "")
    claimed = [name for name in (settings.proxy_user_header, settings.proxy_groups_header) if name in req.headers]
    if claimed and not peer_trusted(peer_of(req), settings.trusted_proxies):
        raise UntrustedIdentity(f"the identity header {claimed[0]} came from an address that is not in "
                                "trusted_proxies")
    if not user.strip():   # nginx drops a header whose value is empty: no user named, anonymous
        return None
    user = as_utf8(user.strip())
    if not USER_RE.fullmatch(user):   # two headers arrive joined by a comma: refused, not one of them picked
        raise UntrustedIdentity(f"the identity header {settings.proxy_user_header} is not a user name "
                                f"(1..{MAX_USER} characters, no control characters, commas or semicolons)")
    groups = groups_of(as_utf8(req.headers.get(settings.proxy_groups_header, "")))
    roles = roles_from_groups(groups, settings.oidc_role_groups)
    return Principal(user, "proxy", scopes_of_roles(roles), roles)
