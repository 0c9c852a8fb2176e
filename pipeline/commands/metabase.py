"""``music-tracker metabase provision``: dashboards as code into Metabase's REST API."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline import settings as settings_mod
from pipeline.paths import lake


def cmd_provision(args: argparse.Namespace) -> int:
    from pipeline.clients.http import BadResponse, HttpError
    from pipeline.clients.metabase import MetabaseClient
    from pipeline.ops.metabase import (
        DashboardConfigError,
        is_starting,
        load_config,
        provision,
        wait_until_up,
    )

    try:
        cfg = settings_mod.metabase_settings()
    except settings_mod.SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    config_dir = Path(args.config_dir) if args.config_dir else cfg.config_dir
    password = settings_mod.secret(cfg.password_env)
    if not password:
        print(f"error: set {cfg.password_env} to the Metabase admin password", file=sys.stderr)
        return 2
    try:
        config = load_config(config_dir)
    except DashboardConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    database_file = cfg.database_file or str(lake().reporting_db.resolve())
    url = args.url or cfg.url
    client = MetabaseClient(url, cfg.timeout_seconds)
    try:
        if args.wait > 0:
            print(f"waiting up to {args.wait:g} s for Metabase at {url}", file=sys.stderr)
            wait_until_up(client, args.wait)
        report = provision(client, config, cfg, password, database_file)
    except BadResponse as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except HttpError as exc:
        if is_starting(exc):
            print(
                f"error: Metabase at {url} is not up ({exc}). It takes a few minutes to start "
                "after `docker compose up -d`: run this again, or add --wait 600",
                file=sys.stderr,
            )
        else:
            print(f"error: Metabase refused: {exc}", file=sys.stderr)
        return 1
    for line in report.created:
        print(f"created {line}")
    for line in report.updated:
        print(f"updated {line}")
    for line in report.archived:
        print(f"archived {line}")
    for line in report.notes:
        print(line)
    print(f"Metabase is provisioned ({len(report.created)} created, {len(report.updated)} updated)")
    return 0


def _seconds(text: str) -> float:
    """A --wait value: seconds, 0 to a day."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 86_400:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds from 0 to 86400")
    return value


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    mb = sub.add_parser("metabase", help="Metabase: provision the dashboards from config")
    mb_sub = mb.add_subparsers(dest="metabase_command", required=True)
    prov = mb_sub.add_parser("provision", help="create or update database, cards, dashboards")
    prov.add_argument("--config-dir", help="dashboards.yaml + cards/ (default metabase.config_dir)")
    prov.add_argument("--url", help="Metabase URL (default metabase.url)")
    prov.add_argument(
        "--wait",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="wait up to SECONDS for Metabase to start (it takes minutes on a NAS)",
    )
    prov.set_defaults(func=cmd_provision)
