"""One settings table for the whole product (after datasette's SETTINGS).

Precedence: defaults < config file (TOML, ``kb.toml`` or ``--config``) < ``KB_*`` environment
< explicit overrides (CLI flags). This is the only module that reads ``os.environ``.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path


HEADER_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,99}")


class SettingsError(ValueError):
    """A setting has a bad value; the message names the setting and its source."""


@dataclass(frozen=True)
class Setting:
    name: str
    default: object
    help: str
    bounds: tuple[float, float] | None = None   # inclusive range of a numeric setting


SETTINGS: tuple[Setting, ...] = (
    Setting("mkdocs_config", "mkdocs.yml", "MkDocs configuration file of the site"),
    Setting("site_dir", "site", "Directory of the built site (holds the corpus export kb-corpus.json)"),
    Setting("data_dir", "data", "Directory for index builds and the links database"),
    Setting("index_root", "", "Directory of index builds; empty means <data_dir>/index"),
    Setting("model", "all-MiniLM-L6-v2", "Embedding model: the bundled default, another sentence-transformers name, or a local path"),
    Setting("encoder_backend", "auto", "Query/index encoder: auto (ONNX int8 if available, else torch), onnx or torch"),
    Setting("keep_builds", 3, "How many published index builds to keep", (1, 1000)),
    Setting("ann_threshold", 50000, "Chunk count above which the dense lane uses HNSW instead of exact search", (1, 10**9)),
    Setting("host", "127.0.0.1", "Address the service binds to"),
    Setting("port", 8000, "Port the service listens on", (1, 65535)),
    Setting("workers", 2, "Production server (gunicorn) worker processes", (1, 64)),
    Setting("database_url", "", "Links database URL; empty means sqlite:///<data_dir>/links.db"),
    Setting("api_token", "", "Bearer token required by write endpoints; empty disables writes"),
    Setting("auth", "none", "Who may use the service: none (no login; only when bound to loopback), oidc (OpenID Connect "
            "login) or proxy (identity from an authenticating reverse proxy)"),
    Setting("public_url", "", "The service's public base URL (e.g. https://kb.example.com): the OIDC redirect URI is "
            "<public_url>/auth/callback, and https makes the session cookie Secure; empty means the request's own"),
    Setting("oidc_issuer", "", "OpenID Connect issuer URL (its /.well-known/openid-configuration is read at start)"),
    Setting("oidc_client_id", "", "OIDC client id of this service"),
    Setting("oidc_client_secret", "", "OIDC client secret of this service"),
    Setting("oidc_scope", "openid profile email groups", "Scopes requested at login"),
    Setting("oidc_groups_claim", "groups", "Claim (ID token or userinfo) holding the user's groups"),
    Setting("oidc_role_groups", "", "Roles from groups: role=group[|group…],… with roles reader, agent, editor, admin "
            "(group * = every user who logs in); a user with no role may do nothing. Used by auth oidc and proxy"),
    Setting("session_minutes", 480.0, "Minutes a login session lasts (then the user logs in again)", (0.05, 10080)),
    Setting("secret_key", "", "Key signing session cookies; empty means a random key kept in <data_dir>/secret_key "
            "(replicas behind one name must share one: set it)"),
    Setting("audit_log", "", "File the audit trail is appended to as JSON lines (for a SIEM); empty means standard error"),
    Setting("rate_limit_per_minute", 300, "Requests per minute per client on every API endpoint (0 = off)", (0, 10**9)),
    Setting("site_rate_limit_per_minute", 3000, "Requests per minute per client for the site's pages and assets and /healthz, /readyz (0 = off)", (0, 10**9)),
    Setting("feedback_per_minute", 20, "Feedback votes and flags per minute per user or token (POST /api/feedback; 0 = off)",
            (0, 10**6)),
    Setting("retention_days", 180, "Days recorded suggestions and feedback are kept before they are purged automatically "
            "(0 = forever)", (0, 36500)),
    Setting("record_queries", True, "Record search queries (normalised, redacted) and the identifiers of suggest requests "
            "per day for the knowledge-gaps report (GET /api/gaps, kb gaps); false records nothing"),
    Setting("max_queries_per_day", 10000, "Distinct queries recorded per day; past it a new query is only counted as "
            "dropped (bounds what a hostile client can make the service store)", (1, 10**7)),
    Setting("gaps_min_callers", 3, "The gaps report shows a query only when at least this many distinct callers asked it "
            "on one day (k-anonymity)", (1, 1000)),
    Setting("allowed_hosts", "", "Comma-separated Host names the service answers (a leading dot allows subdomains, * any); "
            "empty means localhost, 127.0.0.1, ::1 and the 'host' setting"),
    Setting("ticket_id_pattern", "", "Regular expression every (canonical) ticket id must match in full; empty allows any"),
    Setting("reload_interval", 2.0, "Seconds between checks for a newly published index build (0 = never)", (0, 3600)),
    Setting("trusted_proxies", (), "Addresses/CIDRs of reverse proxies whose X-Forwarded-For (and, with auth proxy, "
            "identity headers) are believed (comma-separated)"),
    Setting("proxy_user_header", "X-Forwarded-User", "auth proxy: request header holding the user's name, set by the "
            "authenticating proxy (oauth2-proxy's name); believed only from a peer in trusted_proxies"),
    Setting("proxy_groups_header", "X-Forwarded-Groups", "auth proxy: request header holding the user's groups, "
            "comma-separated (mapped to roles by oidc_role_groups)"),
)
_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    mkdocs_config: str = "mkdocs.yml"
    site_dir: str = "site"
    data_dir: str = "data"
    index_root: str = ""
    model: str = "all-MiniLM-L6-v2"
    encoder_backend: str = "auto"
    keep_builds: int = 3
    ann_threshold: int = 50000
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2
    database_url: str = ""
    api_token: str = ""
    auth: str = "none"
    public_url: str = ""
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_scope: str = "openid profile email groups"
    oidc_groups_claim: str = "groups"
    oidc_role_groups: str = ""
    session_minutes: float = 480.0
    secret_key: str = ""
    audit_log: str = ""
    rate_limit_per_minute: int = 300
    site_rate_limit_per_minute: int = 3000
    feedback_per_minute: int = 20
    retention_days: int = 180
    record_queries: bool = True
    max_queries_per_day: int = 10000
    gaps_min_callers: int = 3
    allowed_hosts: str = ""
    ticket_id_pattern: str = ""
    reload_interval: float = 2.0
    trusted_proxies: tuple[str, ...] = ()
    proxy_user_header: str = "X-Forwarded-User"
    proxy_groups_header: str = "X-Forwarded-Groups"

    @property
    def index_path(self) -> Path:
        return Path(self.index_root) if self.index_root else Path(self.data_dir) / "index"

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{Path(self.data_dir) / 'links.db'}"

    @property
    def host_allowlist(self) -> list[str]:
        """The Host names answered: ``allowed_hosts``, or the loopback names plus the bound host."""
        names = [n.strip().lower() for n in self.allowed_hosts.split(",") if n.strip()]
        return names or sorted({"localhost", "127.0.0.1", "::1", self.host.lower().strip("[]")})

    @property
    def corpus_path(self) -> Path:
        return Path(self.site_dir) / "kb-corpus.json"


def _coerce(name: str, value: object, source: str) -> object:
    default = _BY_NAME[name].default
    if isinstance(default, tuple):
        return _networks(name, value, source)
    try:
        if isinstance(default, bool):
            return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
        if isinstance(default, int):
            number = int(value)
        elif isinstance(default, float):
            number = float(value)
        else:
            return str(value)
    except (TypeError, ValueError, OverflowError):
        raise SettingsError(f"setting '{name}' from {source}: {value!r} is not a valid "
                            f"{type(default).__name__}") from None
    bounds = _BY_NAME[name].bounds
    if bounds and not bounds[0] <= number <= bounds[1]:   # also refuses NaN
        raise SettingsError(f"setting '{name}' from {source}: {value!r} is outside {bounds[0]:g}..{bounds[1]:g}")
    return number


def _networks(name: str, value: object, source: str) -> tuple[str, ...]:
    """A list of IP addresses / CIDR networks: a TOML list or a comma-separated string."""
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    networks = []
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        try:
            networks.append(str(ipaddress.ip_network(text, strict=False)))
        except ValueError:
            raise SettingsError(f"setting '{name}' from {source}: {text!r} is not an IP address or CIDR network "
                                "(e.g. 127.0.0.1, 10.0.0.0/8, ::1)") from None
    return tuple(networks)


def load_settings(config_file: str | None = None, overrides: dict | None = None,
                  environ: dict | None = None) -> Settings:
    """Resolve the settings; raises SettingsError naming the setting for a bad value."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    path = config_file or env.get("KB_CONFIG") or ("kb.toml" if Path("kb.toml").exists() else None)
    if path:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"config file {path}: {exc}") from None
        for key, value in data.items():
            if key not in _BY_NAME:
                raise SettingsError(f"config file {path}: unknown setting '{key}'")
            values[key] = _coerce(key, value, f"config file {path}")
    for name in _BY_NAME:
        env_name = f"KB_{name.upper()}"
        if env.get(env_name) not in (None, ""):
            values[name] = _coerce(name, env[env_name], f"environment {env_name}")
    for name, value in (overrides or {}).items():
        if value is not None:
            values[name] = _coerce(name, value, f"option --{name.replace('_', '-')}")
    settings = Settings(**values)
    if settings.auth not in ("none", "oidc", "proxy"):
        raise SettingsError(f"setting 'auth': {settings.auth!r} is not none, oidc or proxy")
    if settings.encoder_backend not in ("auto", "onnx", "torch"):
        raise SettingsError(f"setting 'encoder_backend': {settings.encoder_backend!r} is not auto, onnx or torch")
    _check_pattern(settings.ticket_id_pattern)
    for name in ("proxy_user_header", "proxy_groups_header"):
        if not HEADER_NAME_RE.fullmatch(getattr(settings, name)):
            raise SettingsError(f"setting '{name}': {getattr(settings, name)!r} is not an HTTP header name "
                                "(letters, digits and '-', e.g. X-Forwarded-User)")
    return settings


def _check_pattern(pattern: str) -> None:
    if len(pattern) > 500:
        raise SettingsError(f"setting 'ticket_id_pattern': {len(pattern)} characters, the limit is 500")
    try:
        import regex   # the engine that matches it (search/service/ticket_ids.py): its syntax, with a timeout

        regex.compile(pattern)
    except regex.error as exc:
        raise SettingsError(f"setting 'ticket_id_pattern': {pattern!r} is not a valid regular expression ({exc})") from None


def as_dict(settings: Settings) -> dict:
    return dataclasses.asdict(settings)
