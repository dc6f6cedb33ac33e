"""API tokens for integrations: created once, shown once, stored only as a SHA-256 hash.

A token is ``kb_`` + 32 random bytes (URL-safe base64): far too much entropy to guess, so a plain
SHA-256 is the right hash (no salt or slow KDF needed, unlike passwords) and the lookup is by that
hash, then compared in constant time. Every check reads the database, so ``kb token revoke`` and
expiry take effect on the next request of every worker and replica, without a restart.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from search.service.auth import audit
from search.service.auth.principals import SCOPES
from search.service.db.tables import api_tokens

PREFIX = "kb_"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_EXPIRES_DAYS = 3650


class TokenError(ValueError):
    """A bad token request (name, scopes, expiry); the message says what to change."""


@dataclass(frozen=True)
class TokenInfo:
    name: str
    scopes: frozenset[str]
    created_at: str
    created_by: str
    expires_at: str | None
    revoked_at: str | None

    @property
    def state(self) -> str:
        if self.revoked_at:
            return "revoked"
        return "expired" if self.expires_at and self.expires_at <= audit.now() else "active"

    def to_json(self) -> dict:
        return {"name": self.name, "scopes": sorted(self.scopes), "created_at": self.created_at,
                "created_by": self.created_by, "expires_at": self.expires_at, "revoked_at": self.revoked_at,
                "state": self.state}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def parse_scopes(text: str) -> frozenset[str]:
    """``read,suggest`` or ``read suggest`` → the scopes; unknown names are refused naming the valid ones."""
    scopes = frozenset(s for s in re.split(r"[\s,]+", text.strip()) if s)
    unknown = sorted(scopes - set(SCOPES))
    if not scopes or unknown:
        raise TokenError(f"--scope {text!r}: {'unknown ' + ', '.join(unknown) if unknown else 'none given'}; "
                         f"choose from {', '.join(SCOPES)} (comma-separated)")
    return scopes


def create(engine: Engine, name: str, scopes: frozenset[str], expires_days: int | None, actor: str,
           client: str = "cli") -> tuple[str, TokenInfo]:
    """A new token: returns (the token, shown this once; its record). Names are unique forever."""
    if not NAME.fullmatch(name):
        raise TokenError(f"--name {name[:80]!r}: 1 to 64 letters, digits, '.', '_' or '-', starting with a "
                         "letter or digit")
    if expires_days is not None and not 1 <= expires_days <= MAX_EXPIRES_DAYS:
        raise TokenError(f"--expires {expires_days}: from 1 to {MAX_EXPIRES_DAYS} days")
    token, created = PREFIX + secrets.token_urlsafe(32), audit.now()
    expires = None if expires_days is None else (dt.datetime.fromisoformat(created)
                                                 + dt.timedelta(days=expires_days)).isoformat(timespec="seconds")
    with engine.begin() as connection:
        if connection.execute(sa.select(api_tokens.c.id).where(api_tokens.c.name == name)).first():
            raise TokenError(f"--name {name!r}: a token of that name exists (names are never reused, "
                             "revoked ones included); choose another")
        connection.execute(api_tokens.insert().values(
            name=name, token_hash=hash_token(token), scopes=" ".join(sorted(scopes)), created_at=created,
            created_by=actor, expires_at=expires))
        audit.record(connection, actor, "token.create", name, client, scopes=sorted(scopes), expires_at=expires)
    return token, TokenInfo(name, scopes, created, actor, expires, None)


def _info(row) -> TokenInfo:
    return TokenInfo(row.name, frozenset(row.scopes.split()), row.created_at, row.created_by, row.expires_at,
                     row.revoked_at)


def list_tokens(engine: Engine) -> list[TokenInfo]:
    with engine.connect() as connection:
        return [_info(r) for r in connection.execute(sa.select(api_tokens).order_by(api_tokens.c.id))]


def revoke(engine: Engine, name: str, actor: str, client: str = "cli") -> TokenInfo:
    """Revoke the token ``name`` at once; revoking a revoked token is refused (nothing to do)."""
    with engine.begin() as connection:
        row = connection.execute(sa.select(api_tokens).where(api_tokens.c.name == name)).first()
        if row is None:
            raise TokenError(f"no token named {name[:80]!r}; 'kb token list' shows them")
        if row.revoked_at:
            raise TokenError(f"token {name!r} was already revoked at {row.revoked_at}")
        revoked = audit.now()
        connection.execute(api_tokens.update().where(api_tokens.c.id == row.id).values(revoked_at=revoked))
        audit.record(connection, actor, "token.revoke", name, client)
    return dataclasses.replace(_info(row), revoked_at=revoked)


def verify(engine: Engine, presented: str) -> TokenInfo | None:
    """The live token ``presented`` is, or None (unknown, revoked or expired)."""
    if not presented.startswith(PREFIX) or len(presented) > 200:
        return None
    digest = hash_token(presented)
    with engine.connect() as connection:
        row = connection.execute(sa.select(api_tokens).where(api_tokens.c.token_hash == digest)).first()
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    info = _info(row)
    return info if info.state == "active" else None
