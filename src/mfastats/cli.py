"""The `mfastats` command: a thin layer over the library, and the only place errors become exit codes.

Exit codes of `report` and `demo`: 0 ok; 1 usage or configuration error; 2 one or more domains failed
(reported; the others are still shown).
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from mfastats import __version__
from mfastats.alerts import check_plugin
from mfastats.alerts.notify import notify
from mfastats.clock import format_time, parse_as_of
from mfastats.errors import EXIT_DOMAIN_FAILED, EXIT_OK, EXIT_USAGE, MfastatsError, UserError
from mfastats.model import Report
from mfastats.outputs.csv import render_csv
from mfastats.outputs.document import render_json, report_document
from mfastats.outputs.table import render_table
from mfastats.report import build_report
from mfastats.settings import Flags, Settings, load_settings
from mfastats.store.history import Store, default_store_dsn, parse_store_dsn

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
    result = build_report(settings, parse_as_of(params.get("as_of")), open_store(settings, create=False))
    return emit(result, output_format, Console())


@cli.command()
@source_options
@exits
def snapshot(**params: Any) -> int:
    """Store one snapshot of every metric per domain in the history store."""
    settings = settings_from(params)
    store = open_store(settings, create=True)
    result = build_report(settings, parse_as_of(params.get("as_of")), store)
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
        result = build_report(settings, parse_as_of(params.get("as_of")), store)
    except MfastatsError as exc:
        click.echo(f"MFASTATS UNKNOWN - {exc}")
        sys.exit(check_plugin.UNKNOWN)
    status, lines = check_plugin.render(result)
    click.echo("\n".join(lines))
    if settings.webhook_url and store is not None:
        previous = store.alert_states()
        delivery = notify(settings.webhook_url, result, previous,
                          include_identities=settings.webhook_include_identities)
        if delivery.failed:
            click.echo(f"webhook: {delivery.failed} message(s) could not be delivered", err=True)
        store.set_alert_states({(d.name, a.name): a.state for d in result.domains for a in d.alerts}, result.as_of)
    sys.exit(status)


@cli.command()
@click.option("--data-dir", type=click.Path(path_type=Path), help="Where to build the demo databases.")
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("-v", "--verbose", count=True, help="Log progress.")
@exits
def demo(data_dir: Path | None, output_format: str, verbose: int) -> int:
    """Build realistic CIAM and IAM demo databases (SQLite) and print their report."""
    from mfastats.demo.build import build_demo

    built = build_demo(data_dir)
    click.echo(f"demo databases in {built.folder}", err=True)
    result = build_report(built.settings, built.as_of)
    return emit(result, output_format, Console())


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
