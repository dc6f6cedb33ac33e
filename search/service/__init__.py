"""The Flask service: the built site and the JSON API on one origin.

Boundary rule: the only package that imports Flask. It reads published index builds (through
``search``'s loader) and never builds one; it must not import mkdocs or ``site_builder``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from sqlalchemy.engine import Engine

from search.encoder import Encoder
from search.service import api, db, erase_api, errors, guard, site
from search.service.feedback import views as feedback_views
from search.service.review import views as review_views
from search.service.gaps import views as gaps_views
from search.service.auth import policy
from search.service.auth.principals import check_auth_setting
from search.service.client_address import TrustedProxies
from search.service.fast_search import FastSearch
from search.service.holder import IndexHolder
from search.service.json_provider import FastJSONProvider
from search.service.links import LinkStore, open_store
from search.service.ratelimit import RateLimiter
from search.service.retention import Retention
from search.settings import Settings, load_settings

MAX_BODY = 64 * 1024


@dataclass
class ServiceState:
    settings: Settings
    holder: IndexHolder
    store: LinkStore
    limiter: RateLimiter
    engine: Engine        # the service database (search.service.db)


def create_app(settings: Settings | None = None, encoder: Encoder | None = None, watch: bool = True) -> Flask:
    """Application factory. Loads the published index (if any) and opens the service database, which
    must be at the newest migration (a new, empty one is created; ``db.NotMigrated`` otherwise).

    ``watch`` starts the background thread that swaps in newly published index builds.
    """
    settings = settings or load_settings()
    check_auth_setting(settings.auth, settings.host, settings.trusted_proxies)   # ValueError naming the setting
    app = Flask(__name__, static_folder=None)
    app.url_map.converters["sitepath"] = site.SitePathConverter
    # absolute: Flask resolves relative paths against the package, not the working directory
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY, KB_SITE_DIR=str(Path(settings.site_dir).resolve()))
    app.json = FastJSONProvider(app)   # orjson; keys in insertion order
    hashes, _others = site.theme_script_hashes(Path(settings.site_dir)) if Path(settings.site_dir).is_dir() else ([], [])
    app.config["KB_CSP"] = site.content_security_policy(hashes)
    app.config["KB_HEADERS"] = [("Content-Security-Policy", app.config["KB_CSP"]), *site.SECURITY_HEADERS.items()]
    holder = IndexHolder(settings, encoder)
    holder.refresh()
    if watch:
        holder.start()
    store = open_store(settings.database)   # a new database is created; an older one needs kb db upgrade
    state = ServiceState(settings, holder, store,
                         RateLimiter(Path(settings.data_dir) / "ratelimit.bin", settings.rate_limit_per_minute),
                         db.make_engine(settings.database))
    app.extensions["kb"] = state
    if watch:
        Retention(state.store, settings.retention_days).start()
    errors.init_app(app)
    guard.init_app(app)
    policy.init_app(app)   # after the guard's rate limit: authenticate → authorise → audit writes
    app.register_blueprint(api.bp)
    app.register_blueprint(erase_api.bp)
    app.register_blueprint(feedback_views.bp)
    app.register_blueprint(review_views.bp)
    app.register_blueprint(gaps_views.bp)
    app.register_blueprint(site.bp)
    app.after_request(site.add_security_headers)
    app.wsgi_app = guard.Guard(app, FastSearch(app))
    if settings.trusted_proxies:   # outermost: the rate limiter, the policy point and the logs see the client
        app.wsgi_app = TrustedProxies(app.wsgi_app, settings.trusted_proxies)
    return app
