"""``cmm publish`` and ``cmm budget``: the centre's open-data release and its privacy budget."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from infra.settings import Settings


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(data_dir=args.data_dir, store=args.store)


def cmd_publish(args: argparse.Namespace) -> int:
    from infra.publish import publish_dp, publish_sdc
    from privacy.budget import BudgetError
    from privacy.params import PrivacyParams

    settings = _settings(args)
    out = Path(args.out)
    if args.method == "suppression":
        from privacy.sdc import ProtectionError

        try:
            release = publish_sdc(
                settings,
                args.year,
                args.as_of,
                out,
                args.threshold,
                args.protection,
                args.released_by,
            )
        except (ProtectionError, FileExistsError) as refused:
            print(f"cmm publish: refused, nothing released: {refused}", file=sys.stderr)
            return 3
    else:
        defaults = PrivacyParams()
        params = PrivacyParams(
            epsilon_total=defaults.epsilon_total if args.epsilon is None else args.epsilon,
            threshold=args.threshold,
        )
        try:
            release = publish_dp(
                settings,
                args.year,
                args.as_of,
                out,
                params,
                args.released_by,
                year_budget=args.year_budget,
            )
        except BudgetError as refused:
            print(f"cmm publish: refused, nothing released: {refused}", file=sys.stderr)
            return 3
    suppressed = sum(int((t["status"] == "suppressed").sum()) for t in release.tables.values())
    print(
        f"released {len(release.tables)} tables for {args.year} as of {args.as_of} "
        f"({release.metadata.get('method', args.method)}); {suppressed} cells suppressed; "
        f"package in {out}"
    )
    return 0


def cmd_budget(args: argparse.Namespace) -> int:
    from infra.publish import allocate_budget, budget_json, budget_report

    settings = _settings(args)
    if args.allocate is not None:
        allocate_budget(settings, args.year, args.allocate, allocated_by=args.released_by)
    if args.json:
        summary: dict[str, Any] = budget_json(settings, args.year)
        print(json.dumps(summary, indent=2, default=str))
    else:
        print(budget_report(settings, args.year))
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("publish", help="release the year's public tables (safe open data)")
    p.add_argument("--data-dir")
    p.add_argument("--store", choices=["sqlite", "postgres"])
    p.add_argument("--year", type=int, required=True)
    p.add_argument("--as-of", required=True)
    p.add_argument("--out", required=True, help="directory for the data package")
    p.add_argument(
        "--method",
        choices=["dp", "suppression"],
        default="dp",
        help="dp: differential privacy (default, open data); suppression: exact counts with "
        "cell suppression, for partners under agreement",
    )
    p.add_argument("--epsilon", type=float, help="privacy loss of this release (dp)")
    p.add_argument("--year-budget", type=float, help="the year's total budget, if not set yet")
    p.add_argument("--threshold", type=int, default=5, help="small-cell threshold (>= 3)")
    p.add_argument(
        "--protection",
        type=float,
        help="suppression: upper and lower protection level of every small cell and "
        "change (default: the threshold)",
    )
    p.add_argument("--released-by", help="who releases (default: the login name)")
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser("budget", help="the year's privacy budget: allocated, spent, remaining")
    p.add_argument("--data-dir")
    p.add_argument("--store", choices=["sqlite", "postgres"])
    p.add_argument("--year", type=int, required=True)
    p.add_argument("--allocate", type=float, help="set the year's total budget (once)")
    p.add_argument("--released-by", help="who allocates (default: the login name)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_budget)
