"""Run the web app: the bind policy, the token, the first computation and the background refresh.

Policy (documented in the README):
* binds 127.0.0.1 by default; any host that is not loopback needs a token (`--token` or the
  `MFASTATS_TOKEN` environment variable), otherwise `serve` refuses to start (exit 1);
* on loopback without a token, a random token is generated at start and printed, so the page is never
  open, not even to other local users.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from mfastats.errors import EXIT_DOMAIN_FAILED, EXIT_OK, SourceError, UserError
from mfastats.model import Report
from mfastats.web.state import DEFAULT_REFRESH_SECONDS, ReportStore

if TYPE_CHECKING:
    from mfastats.web.ingest import IngestEndpoint

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
MIN_REFRESH_SECONDS = 5
TOKEN_ENV = "MFASTATS_TOKEN"
MIN_REMOTE_TOKEN_LENGTH = 16
INGEST_TOKEN_ENV = "MFASTATS_INGEST_TOKEN"


@dataclass(frozen=True)
class ServeOptions:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    token: str | None = None
    refresh_seconds: float = DEFAULT_REFRESH_SECONDS
    metrics_open: bool = False
    verbose: int = 0
    ingest_token: str | None = None


def serve_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The web server's flags (`serve`, `demo --serve`); see `mfastats.web.server` for the bind policy."""
    options = [
        click.option("--host", default=DEFAULT_HOST, show_default=True,
                     help="Address to listen on; a non-loopback address needs a token."),
        click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True,
                     help="TCP port."),
        click.option("--token", envvar=TOKEN_ENV, show_envvar=True,
                     help=f"Admin access token (prefer {TOKEN_ENV}: flags show in `ps`). "
                          "Without one on loopback, a random token is generated and printed."),
        click.option("--refresh-seconds", type=float, default=DEFAULT_REFRESH_SECONDS, show_default=True,
                     help="Recompute the report in the background this often."),
        click.option("--metrics-open", is_flag=True, help="Serve /metrics without the token."),
        click.option("--ingest-token", envvar=INGEST_TOKEN_ENV, show_envvar=True,
                     help="Enable POST /ingest/{domain} for event producers, with this token (not the admin one)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


def resolve_token(options: ServeOptions) -> tuple[str, bool]:
    """The token to require, and whether it was generated here (then it must be shown to the admin)."""
    token = (options.token or "").strip()
    if not is_loopback(options.host) and token and len(token) < MIN_REMOTE_TOKEN_LENGTH:
        raise UserError(f"--host {options.host}: a token for a non-loopback address must be at least "
                        f"{MIN_REMOTE_TOKEN_LENGTH} characters (e.g. openssl rand -base64 32)")
    if not is_loopback(options.host) and not token:
        raise UserError(
            f"--host {options.host}: refusing to listen on a non-loopback address without a token; "
            f"set {TOKEN_ENV} (or --token), or bind 127.0.0.1"
        )
    if options.refresh_seconds < MIN_REFRESH_SECONDS:
        raise UserError(f"--refresh-seconds {options.refresh_seconds:g}: must be at least {MIN_REFRESH_SECONDS}")
    if token:
        return token, False
    return secrets.token_urlsafe(24), True


def url_of(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}/"


def run_server(compute: Callable[[], Report], options: ServeOptions, ingest: IngestEndpoint | None = None) -> int:
    """Compute the first report, start the refresh thread and serve until interrupted."""
    import uvicorn

    from mfastats.web.app import create_app

    token, generated = resolve_token(options)
    store = ReportStore(compute, refresh_seconds=options.refresh_seconds)
    click.echo("computing the first report ...", err=True)
    store.refresh()
    if store.latest is None:
        raise SourceError(f"the first report could not be computed: {store.error.message if store.error else '?'}")
    for failed in store.latest.report.failed_domains:
        click.echo(f"error: {failed.error}", err=True)
    app = create_app(store, token=token, metrics_open=options.metrics_open, ingest=ingest)
    click.echo(f"mfastats serving on {url_of(options.host, options.port)}")
    if generated:
        click.echo(f"access token (generated for this run; set {TOKEN_ENV} to choose one): {token}")
    else:
        click.echo("access token: the one given with --token / " + TOKEN_ENV)
    store.start()
    try:
        uvicorn.run(app, host=options.host.strip("[]"), port=options.port,
                    log_level="info" if options.verbose else "warning", access_log=options.verbose > 0,
                    server_header=False)
    finally:
        store.stop()
    logging.getLogger(__name__).info("server stopped")
    latest = store.latest
    return EXIT_DOMAIN_FAILED if latest is not None and latest.report.failed_domains else EXIT_OK
