"""Principals, scopes and roles: what an authenticated caller may do. No Flask here.

Scopes (API tokens carry them; roles map to them): ``read`` (search, articles), ``internal`` (the
staff site and ``audience: internal`` articles, which search, suggest and the articles API leave out
without it; an article that declares no audience counts as internal), ``suggest``
(the ticket assistant; records suggestions), ``links:read`` (ticket ids of links), ``links:write``
(link, unlink; implies ``links:read``), ``reports`` (the report with its knowledge-gap ticket ids),
``feedback:write`` (votes and flags on articles), ``review`` (read feedback, the owners' review
queue, resolve flags; reading needs ``internal`` too), ``admin`` (implies every scope).
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass

SCOPES = ("read", "internal", "suggest", "links:read", "links:write", "feedback:write", "review", "reports", "admin")
IMPLIED = {"admin": frozenset(SCOPES), "links:write": frozenset({"links:write", "links:read"})}
ROLES = ("reader", "agent", "editor", "admin")
_AGENT = frozenset({"read", "internal", "suggest", "links:read", "links:write", "feedback:write"})
ROLE_SCOPES = {"reader": frozenset({"read", "internal"}), "agent": _AGENT, "editor": _AGENT | {"review"},
               "admin": frozenset(SCOPES)}
STAFF_ONLY = frozenset({"internal"})   # audiences only principals with the scope 'internal' may see
AUTH_MODES = ("none", "oidc", "proxy")
LOOPBACK_NAMES = ("localhost",)


def expand(scopes) -> frozenset[str]:
    """The scopes and everything they imply."""
    out = set()
    for scope in scopes:
        out |= IMPLIED.get(scope, {scope})
    return frozenset(out)


@dataclass(frozen=True)
class Principal:
    name: str                 # 'local', 'token:<name>', or the user's name from the identity provider
    kind: str                 # local | token | session | proxy
    scopes: frozenset[str]    # expanded
    roles: tuple[str, ...] = ()
    csrf: str = ""            # a session's CSRF token, which its cookie-authenticated writes must echo

    def allows(self, scope: str | None) -> bool:
        return scope is None or scope in self.scopes


LOCAL = Principal("local", "local", frozenset(SCOPES), ("admin",))


def is_loopback(host: str) -> bool:
    """Whether a bind address or peer address is this machine only (127.0.0.0/8, ::1, localhost)."""
    host = host.strip().strip("[]")
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_auth_setting(auth: str, host: str, trusted_proxies=()) -> None:
    """Refuse ``auth = none`` unless bound to loopback, and ``auth = proxy`` without ``trusted_proxies``
    (the identity header would then be believed from nobody; raises ValueError naming the setting)."""
    if auth not in AUTH_MODES:
        raise ValueError(f"setting 'auth': {auth!r} is not one of {', '.join(AUTH_MODES)}")
    if auth == "proxy" and not trusted_proxies:
        raise ValueError("setting 'auth' is 'proxy' (identity from an authenticating reverse proxy) but "
                         "'trusted_proxies' is empty: set trusted_proxies (KB_TRUSTED_PROXIES) to the address of "
                         "the proxy whose identity header is to be believed")
    if auth == "none" and not is_loopback(host):
        raise ValueError(f"setting 'auth' is 'none' (no login), which is allowed only on a loopback address, but "
                         f"'host' is {host!r}: set auth to 'oidc' or 'proxy' (KB_AUTH) to serve other machines, "
                         "or bind to 127.0.0.1")


def roles_from_groups(groups, mapping: str) -> tuple[str, ...]:
    """Roles of a user from their groups claim. ``mapping``: ``role=group[|group…],…`` (the setting
    ``oidc_role_groups``); a group ``*`` gives the role to every authenticated user."""
    names = {str(g) for g in groups} if isinstance(groups, (list, tuple, set)) else ({str(groups)} if groups else set())
    roles = []
    for role, wanted in parse_role_groups(mapping).items():
        if "*" in wanted or names & wanted:
            roles.append(role)
    return tuple(roles)


def parse_role_groups(mapping: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for part in filter(None, (p.strip() for p in mapping.split(","))):
        role, sep, groups = part.partition("=")
        role = role.strip()
        if not sep or role not in ROLES or not groups.strip():
            raise ValueError(f"setting 'oidc_role_groups': {part!r} is not ROLE=GROUP[|GROUP…] with ROLE one of "
                             f"{', '.join(ROLES)}")
        out.setdefault(role, set()).update(g.strip() for g in groups.split("|") if g.strip())
    return out


def scopes_of_roles(roles) -> frozenset[str]:
    out = frozenset()
    for role in roles:
        out |= ROLE_SCOPES.get(role, frozenset())
    return out
