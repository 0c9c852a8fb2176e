"""``music-tracker metabase provision``: dashboards as code into Metabase's REST API."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline import settings as settings_mod
from pipeline.paths import lake


def cmd_provision(args: argparse.Namespace) -> int:
    from pipeline.clients.http import HttpError
    from pipeline.clients.metabase import MetabaseClient
    from pipeline.ops.metabase import DashboardConfigError, load_config, provision

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
    client = MetabaseClient(args.url or cfg.url, cfg.timeout_seconds)
    try:
        report = provision(client, config, cfg, password, database_file)
    except HttpError as exc:
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


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    mb = sub.add_parser("metabase", help="Metabase: provision the dashboards from config")
    mb_sub = mb.add_subparsers(dest="metabase_command", required=True)
    prov = mb_sub.add_parser("provision", help="create or update database, cards, dashboards")
    prov.add_argument("--config-dir", help="dashboards.yaml + cards/ (default metabase.config_dir)")
    prov.add_argument("--url", help="Metabase URL (default metabase.url)")
    prov.set_defaults(func=cmd_provision)
