"""``music-tracker status``: is everything working? Exit 0 healthy, 1 unhealthy (healthcheck)."""

from __future__ import annotations

import argparse
import json

from pipeline.paths import lake


def cmd_status(args: argparse.Namespace) -> int:
    # Imported here: every command builds the parser, and health's imports would cost each
    # 30-minute cycle and no-op build their share of a 0.5 s budget.
    from pipeline.ops.health import collect, collect_health, render

    if args.health:
        # Docker's healthcheck: the problems only, one line, no play read and no database
        # opened while a run holds the lake (it runs beside the builds, in their 400 MB).
        status = collect_health(lake())
        if args.json:
            print(json.dumps({"healthy": status.healthy, "problems": status.problems}))
        else:
            print("HEALTHY" if status.healthy else "UNHEALTHY: " + "; ".join(status.problems))
        return 0 if status.healthy else 1
    status = collect(lake())
    if args.json:
        print(json.dumps(status.to_dict(), indent=2, default=str))
    else:
        print(render(status))
    return 0 if status.healthy else 1


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("status", help="health: polls, plays today, tokens, builds, disk")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--health",
        action="store_true",
        help="only the problems, cheaply (exit 0 healthy, 1 unhealthy): the healthcheck",
    )
    parser.set_defaults(func=cmd_status, needs_lake=True)
