"""``kb serve``: the production server (gunicorn, gthread workers) or Flask's development server."""
from __future__ import annotations

import click


def _gunicorn_app(settings, threads: int):
    from gunicorn.app.base import BaseApplication

    from kb_cli.gunicorn_worker import WORKER_CONNECTIONS

    class KBApplication(BaseApplication):
        def load_config(self):
            options = {"bind": f"{settings.host}:{settings.port}", "workers": settings.workers,
                       "worker_class": "kb_cli.gunicorn_worker.KeepAliveThreadWorker",   # gthread, see there
                       "threads": threads, "worker_connections": WORKER_CONNECTIONS, "timeout": 60, "graceful_timeout": 20, "keepalive": 5,
                       "accesslog": None, "errorlog": "-", "loglevel": "info", "proc_name": "kb-serve",
                       "control_socket_disable": True}
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):   # in each worker (no preload)
            import gc

            from search.service import create_app

            app = create_app(settings)
            # The loaded index is hundreds of thousands of long-lived objects. Left in the collected
            # generations, the first full collection under load scanned them all: a 30–120 ms stall
            # (gc callbacks in two workers over 20 s at 1 and 16 clients); frozen, it took ≤ 1.2 ms.
            # They are still freed by reference counting when a hot swap drops them.
            gc.freeze()
            return app

    return KBApplication()


def run_serve(settings, dev: bool, threads: int) -> None:
    from pathlib import Path

    if not (Path(settings.site_dir) / "index.html").exists():
        raise click.ClickException(f"no built site in {settings.site_dir}/: run 'kb build' first")
    from search.service.auth import audit
    from search.service.auth.principals import check_auth_setting, parse_role_groups

    try:
        check_auth_setting(settings.auth, settings.host, settings.trusted_proxies)   # none: loopback; proxy: trusted_proxies
        parse_role_groups(settings.oidc_role_groups)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if settings.host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"warning: binding to {settings.host}, reachable from other machines", err=True)
    audit.configure_log(settings.audit_log)   # inherited by the workers gunicorn forks
    _check_port_free(settings.host, settings.port)
    _open_links_database(settings)
    click.echo(f"Serving site and API on http://{settings.host}:{settings.port}/ "
               f"({'development server' if dev else f'gunicorn, {settings.workers} workers x {threads} threads'})")
    if dev:
        from search.service import create_app

        create_app(settings).run(host=settings.host, port=settings.port, threaded=True)
        return
    _gunicorn_app(settings, threads).run()


def _check_port_free(host: str, port: int) -> None:
    """Fail at once, naming the setting, when nothing could listen there (gunicorn would retry
    for 5 s and then print "Can't connect"). Another server may still take the port before
    gunicorn binds it; gunicorn then reports that itself."""
    import errno
    import socket

    try:
        family, kind, proto, _name, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except OSError as exc:
        raise click.ClickException(f"setting 'host': cannot resolve {host!r} ({exc.strerror or exc}); "
                                   "use an address of this machine such as 127.0.0.1") from None
    try:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # as gunicorn binds
            probe.bind(address)
    except OSError as exc:
        why = {errno.EADDRINUSE: "another server may be running there: stop it, or choose another port with "
                                 "--port or KB_PORT",
               errno.EADDRNOTAVAIL: f"{host} is not an address of this machine: set 'host' (--host, KB_HOST) "
                                    "to one, such as 127.0.0.1",
               errno.EACCES: "ports below 1024 need privileges: choose another port with --port or KB_PORT"}
        raise click.ClickException(f"cannot listen on {host}:{port} ({exc.strerror or exc}); "
                                   + why.get(exc.errno, "check the 'host' and 'port' settings")) from None


def _open_links_database(settings) -> None:
    """Check the service database before any worker starts: a bad file or URL, or a database that
    needs ``kb db upgrade``, is one clear error here (in a worker it was a traceback and "Worker
    failed to boot"); a new, empty database is created at the newest revision by this one process
    instead of by every worker at once."""
    from search.service.links import StoreBusy, StoreError, open_store

    try:
        open_store(settings.database).close()   # closed before gunicorn forks: no connection crosses a fork
    except (StoreError, StoreBusy) as exc:
        raise click.ClickException(str(exc)) from None
