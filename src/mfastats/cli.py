"""The `mfastats` command: a thin layer over the library, and the only place errors become exit codes.

Exit codes of `report`, `snapshot`, `serve` and `demo`: 0 ok; 1 usage or configuration error; 2 one or more domains failed
(reported; the others are still shown).
"""

from __future__ import annotations

import functools
import io
import logging
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from mfastats import __version__
from mfastats.alerts import check_plugin
from mfastats.alerts.notify import notify
from mfastats.clock import format_time, parse_as_of
from mfastats.dsn import parse_dsn
from mfastats.errors import EXIT_DOMAIN_FAILED, EXIT_OK, EXIT_USAGE, MfastatsError, UserError
from mfastats.ingest.pipeline import Sink, StoreSink, ingest_lines, summary_json
from mfastats.model import Report
from mfastats.outputs.csv import render_csv
from mfastats.outputs.document import render_json, report_document
from mfastats.outputs.table import render_table
from mfastats.report import build_report
from mfastats.settings import DOMAIN_NAME, AuditSettings, Flags, Settings, load_settings
from mfastats.store.history import Store, audit_events, default_store_dsn, parse_store_dsn
from mfastats.web.server import serve_options

FORMATS = ("table", "json", "csv")


def source_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The flags every command that reads Kratos shares (SPEC 6)."""
    options = [
        click.option("--kratos", "kratos", multiple=True, metavar="NAME=DSN",
                     help="Kratos database of a domain (repeatable), e.g. ciam=postgresql://ro@db/ciam_kratos"),
        click.option("--audit", "audit", multiple=True, metavar="NAME=DSN", help="Audit-log database of a domain."),
        click.option("--config", "config", type=click.Path(path_type=Path), help="TOML config file."),
        click.option("--target", "targets", multiple=True, metavar="NAME=PERCENT|PROFILE",
                     help="Enrollment target: a percentage or high-security / consumer."),
        click.option("--code-mfa", "code_mfa", multiple=True, metavar="NAME",
                     help="Count e-mail/SMS codes as a second factor in this domain (code_mfa_enabled)."),
        click.option("--timezone", help="Report time zone for daily series (default UTC)."),
        click.option("--legacy-schema-split", is_flag=True,
                     help="One database split by schema_id ('admin' = iam), as the seed page does."),
        click.option("--as-of", "as_of", metavar="WHEN",
                     help="Report as of a date or timestamp (default now; naive means UTC)."),
        click.option("--store", "store", metavar="DSN",
                     help="History store (SQLite path or postgresql:// URL; default: user data folder)."),
        click.option("-v", "--verbose", count=True, help="Log progress (-vv for debug)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def settings_from(params: dict[str, Any]) -> Settings:
    flags = Flags(config=params.get("config"), kratos=list(params.get("kratos") or ()),
                  audit=list(params.get("audit") or ()), targets=list(params.get("targets") or ()),
                  code_mfa=list(params.get("code_mfa") or ()), timezone=params.get("timezone"),
                  legacy_schema_split=bool(params.get("legacy_schema_split")), store=params.get("store"),
                  webhook=params.get("webhook"))
    return load_settings(flags)


def open_store(settings: Settings, *, create: bool) -> Store | None:
    dsn = parse_store_dsn(settings.store) if settings.store else default_store_dsn()
    return Store.open(dsn, create=create)


def with_ingested_audit(settings: Settings, store: Store | None) -> Settings:
    """Domains without an audit source read the events `mfastats ingest` stored for them."""
    if store is None:
        return settings
    domains = tuple(
        replace(d, audit=AuditSettings(store.dsn, table=audit_events.name, domain_column="domain",
                                       domain_value=d.name))
        if d.audit is None and store.has_ingested(d.name) else d
        for d in settings.domains)
    return replace(settings, domains=domains)


def _logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def emit(report: Report, output_format: str, console: Console) -> int:
    if output_format == "json":
        click.echo(render_json(report), nl=False)
    elif output_format == "csv":
        click.echo(render_csv(report_document(report)), nl=False)
    else:
        render_table(report, console)
    for failed in report.failed_domains:
        click.echo(f"error: {failed.error}", err=True)
    return EXIT_DOMAIN_FAILED if report.failed_domains else EXIT_OK


def exits(command: Callable[..., int]) -> Callable[..., None]:
    """Turn a command's return value into its exit code, and library errors into messages."""
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        _logging(kwargs.get("verbose") or 0)
        try:
            code = command(*args, **kwargs)
        except UserError as exc:
            click.echo(f"error: {exc}", err=True)
            code = EXIT_USAGE
        except MfastatsError as exc:
            click.echo(f"error: {exc}", err=True)
            code = EXIT_DOMAIN_FAILED
        sys.exit(code)
    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mfastats")
def cli() -> None:
    """MFA monitoring for Ory Kratos: who really has a second factor, whether step-up works."""


@cli.command()
@source_options
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="table", show_default=True)
@exits
def report(output_format: str, **params: Any) -> int:
    """Print the MFA report for every configured domain."""
    settings = settings_from(params)
    store = open_store(settings, create=False)
    result = build_report(with_ingested_audit(settings, store), parse_as_of(params.get("as_of")), store)
    return emit(result, output_format, Console())


@cli.command()
@source_options
@exits
def snapshot(**params: Any) -> int:
    """Store one snapshot of every metric per domain in the history store."""
    settings = settings_from(params)
    store = open_store(settings, create=True)
    result = build_report(with_ingested_audit(settings, store), parse_as_of(params.get("as_of")), store)
    stored = store.save(result)
    click.echo(f"stored {stored} domain snapshot(s) as of {format_time(result.as_of)} in {store.dsn}")
    for failed in result.failed_domains:
        click.echo(f"error: {failed.error}", err=True)
    return EXIT_DOMAIN_FAILED if result.failed_domains else EXIT_OK


@cli.command()
@source_options
@click.option("--webhook", metavar="URL", help="POST one JSON message per alert state change (Slack-compatible).")
def check(**params: Any) -> None:
    """Evaluate the alerts, monitoring-plugin style (Nagios, Icinga, Sensu): exit 0 OK, 1 WARNING,
    2 CRITICAL, 3 UNKNOWN."""
    _logging(params.get("verbose") or 0)
    try:
        settings = settings_from(params)
        store = open_store(settings, create=bool(settings.webhook_url))
        result = build_report(with_ingested_audit(settings, store), parse_as_of(params.get("as_of")), store)
    except MfastatsError as exc:
        click.echo(f"MFASTATS UNKNOWN - {exc}")
        sys.exit(check_plugin.UNKNOWN)
    except Exception as exc:  # a monitoring plugin must always answer with a status line and code 3
        logging.getLogger(__name__).debug("check failed", exc_info=True)
        click.echo(f"MFASTATS UNKNOWN - internal error {type(exc).__name__}: {exc}")
        sys.exit(check_plugin.UNKNOWN)
    status, lines = check_plugin.render(result)
    click.echo("\n".join(lines))
    if settings.webhook_url and store is not None:
        previous = store.alert_states()
        delivery = notify(settings.webhook_url, result, previous,
                          include_identities=settings.webhook_include_identities,
                          timeout=settings.webhook_timeout_seconds)
        if delivery.failed:
            click.echo(f"webhook: {delivery.failed} message(s) could not be delivered", err=True)
        # An undelivered change keeps its old state in the store, so the next run announces it again.
        store.set_alert_states({(d.name, a.name): a.state for d in result.domains for a in d.alerts
                                if (d.name, a.name) not in delivery.undelivered}, result.as_of)
    sys.exit(status)


@cli.command()
@click.option("--data-dir", type=click.Path(path_type=Path), help="Where to build the demo databases.")
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("-v", "--verbose", count=True, help="Log progress.")
@click.option("--serve", "serve_demo", is_flag=True, help="Serve the demo's analytics page instead of printing it.")
@serve_options
@exits
def demo(data_dir: Path | None, output_format: str, verbose: int, serve_demo: bool = False, **server: Any) -> int:
    """Build realistic CIAM and IAM demo databases (SQLite) and print their report."""
    from mfastats.demo.build import build_demo

    built = build_demo(data_dir)
    click.echo(f"demo databases in {built.folder}", err=True)
    if serve_demo:
        return _serve(built.compute, server, verbose)
    return emit(built.compute(), output_format, Console())


def _serve(compute: Callable[[], Report], server: dict[str, Any], verbose: int,
           settings: Settings | None = None, store: Store | None = None) -> int:
    from mfastats.web.server import ServeOptions, run_server

    ingest = None
    if server.get("ingest_token"):
        from mfastats.web.ingest import IngestEndpoint

        if settings is None or store is None:
            raise UserError("--ingest-token needs configured domains and a history store")
        ingest = IngestEndpoint(server["ingest_token"], store, {d.name: d.kratos_dsn for d in settings.domains})
    return run_server(compute, ServeOptions(host=server["host"], port=server["port"], token=server.get("token"),
                                            refresh_seconds=server["refresh_seconds"],
                                            metrics_open=server["metrics_open"], verbose=verbose or 0), ingest)


@cli.command()
@source_options
@click.option("--demo", "use_demo", is_flag=True, help="Serve freshly built demo databases instead.")
@click.option("--data-dir", type=click.Path(path_type=Path), help="With --demo: where to build the demo databases.")
@serve_options
@exits
def serve(use_demo: bool, data_dir: Path | None, **params: Any) -> int:
    """Serve the analytics page, the JSON API and /metrics (admin-only, 127.0.0.1 by default).

    The report is computed at start and then refreshed in the background; requests and scrapes are
    answered from the stored result. Exit 1 on a configuration error (including a non-loopback --host
    without a token); at shutdown, 2 when a domain could not be read in the last stored report.
    """
    from mfastats.web.server import ServeOptions, resolve_token

    resolve_token(ServeOptions(host=params["host"], token=params.get("token"),
                               refresh_seconds=params["refresh_seconds"]))  # refuse before any work
    if use_demo:
        from mfastats.demo.build import build_demo

        built = build_demo(data_dir)
        click.echo(f"demo databases in {built.folder}", err=True)
        return _serve(built.compute, params, params.get("verbose") or 0)
    settings = settings_from(params)
    fixed_as_of = params.get("as_of")
    parse_as_of(fixed_as_of)  # a bad --as-of is a usage error now, not a failed refresh later
    store = open_store(settings, create=bool(params.get("ingest_token")))
    return _serve(lambda: build_report(with_ingested_audit(settings, store), parse_as_of(fixed_as_of), store), params,
                  params.get("verbose") or 0, settings, store)


@cli.command("prometheus-rules")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="Write here instead of stdout.")
@click.option("--stale-seconds", type=int, default=1800, show_default=True,
              help="Alert when the served report is older than this.")
@exits
def prometheus_rules(output: Path | None, stale_seconds: int) -> int:
    """Write Prometheus alerting rules (YAML) for the alerts mfastats exposes on /metrics."""
    from mfastats.outputs.prometheus import alerting_rules

    text = alerting_rules(stale_seconds)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    return EXIT_OK


@cli.command()
@click.argument("source", default="-")
@click.option("--domain", required=True, help="Domain the events belong to (e.g. ciam).")
@click.option("--kratos", "kratos_dsn", metavar="DSN",
              help="The domain's Kratos database: tells an added TOTP/WebAuthn factor from a removed one.")
@click.option("--store", "store_dsn", metavar="DSN", help="History store to write to (default: user data folder).")
@click.option("--audit", "audit_dsn", metavar="DSN",
              help="Write to this Olympus audit database instead (NAME_security_audit_log or security_audit).")
@click.option("-v", "--verbose", count=True, help="Log progress.")
@exits
def ingest(source: str, domain: str, kratos_dsn: str | None, store_dsn: str | None, audit_dsn: str | None,
           verbose: int) -> int:
    """Ingest JSON lines (FILE or - for stdin): Ory events, OTLP span events, Kratos logs, login UI lines.

    Prints counts of accepted, duplicate, ignored and malformed lines; never stops on a bad line.
    """
    if not DOMAIN_NAME.match(domain):
        raise UserError(f"--domain {domain!r} must match [a-z][a-z0-9_]{{0,31}}")
    kratos = parse_dsn(kratos_dsn, what="--kratos") if kratos_dsn else None
    if audit_dsn:
        from mfastats.ingest.olympus import AuditTableSink

        sink: Sink = AuditTableSink(parse_dsn(audit_dsn, what="--audit", writable=True))
    else:
        sink = StoreSink(Store.open(parse_store_dsn(store_dsn) if store_dsn else default_store_dsn(), create=True))
    if source == "-":
        if sys.stdin is None or sys.stdin.closed:
            raise UserError("ingest -: standard input is closed; give a file or pipe events in")
        counts = ingest_lines(io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace"), sink, domain,
                              kratos)
    else:
        try:
            with open(source, encoding="utf-8", errors="replace") as lines:
                counts = ingest_lines(lines, sink, domain, kratos)
        except OSError as exc:
            raise UserError(f"ingest: cannot read {source!r}: {exc.strerror or exc}") from None
    click.echo(summary_json(counts))
    return EXIT_DOMAIN_FAILED if counts.failed else EXIT_OK


def main() -> None:
    """Console entry point: the CLI library's usage errors exit 1, like every usage error (SPEC 6)."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(EXIT_USAGE)
    sys.exit(EXIT_OK)
