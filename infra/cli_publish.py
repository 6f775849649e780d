"""``cmm publish`` and ``cmm budget``: the centre's open-data release and its privacy budget."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from infra.cli_common import EXIT_REFUSED, check_as_of, date_arg, existing_store, year_arg
from infra.settings import Settings


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(data_dir=args.data_dir, store=args.store)


def _refusal(error: BaseException) -> str:
    """The refusal's message, said once: "refused: ..., nothing released"."""
    text = str(error).removeprefix("refused: ")
    text = text.removesuffix("; nothing released")
    return f"refused, nothing released: {text}"


def cmd_publish(args: argparse.Namespace) -> int:
    from infra.package_out import OutputRefused
    from infra.publish import publish_dp
    from infra.publish_partners import publish_sdc
    from privacy.budget import BudgetError
    from privacy.params import PrivacyParams

    if args.dry_run:
        return _dry_run(args)
    missing = [f"--{n.replace('_', '-')}" for n in ("as_of", "out") if getattr(args, n) is None]
    if missing:
        args.publish_parser.error(f"the following arguments are required: {', '.join(missing)}")
    check_as_of(args.year, args.as_of)
    settings = existing_store(_settings(args))
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
        except (ProtectionError, OutputRefused) as refused:
            print(f"cmm publish: refused, nothing released: {refused}", file=sys.stderr)
            return EXIT_REFUSED
    else:
        defaults = PrivacyParams()
        params = PrivacyParams(
            epsilon_total=defaults.epsilon_total if args.epsilon is None else args.epsilon,
            threshold=args.threshold,
        )
        try:
            release = publish_dp(settings, args.year, args.as_of, out, params, args.released_by)
        except (BudgetError, OutputRefused) as refused:
            print(f"cmm publish: {_refusal(refused)}", file=sys.stderr)
            return EXIT_REFUSED
    suppressed = sum(int((t["status"] == "suppressed").sum()) for t in release.tables.values())
    print(
        f"released {len(release.tables)} tables for {args.year} as of {args.as_of} "
        f"({release.metadata.get('method', args.method)}); {suppressed} cells suppressed; "
        f"package in {out}"
    )
    return 0


def _dry_run(args: argparse.Namespace) -> int:
    """``cmm publish --dry-run``: every table's epsilon and expected error from the public
    parameters alone. Reads no data, draws no noise, spends nothing."""
    from privacy.params import PrivacyParams
    from privacy.release import expected_accuracy

    if args.method != "dp":
        args.publish_parser.error("--dry-run is for --method dp")
    defaults = PrivacyParams()
    try:
        params = PrivacyParams(
            epsilon_total=defaults.epsilon_total if args.epsilon is None else args.epsilon,
            threshold=args.threshold,
        )
    except ValueError as bad:
        args.publish_parser.error(str(bad))
    tables = expected_accuracy(args.year, params)
    if args.json:
        print(
            json.dumps(
                {
                    "year": args.year,
                    "epsilon_total": params.epsilon_total,
                    "epsilon_by_unit": params.epsilon_by_unit(),
                    "threshold": params.threshold,
                    "tables": tables,
                },
                indent=2,
            )
        )
        return 0
    by_unit = params.epsilon_by_unit()
    print(
        f"dry run for {args.year}: nothing read, nothing spent. A release would spend epsilon "
        f"{params.epsilon_total:g}; one person loses at most {by_unit['person']:.2f}, one call "
        f"{by_unit['call']:.2f}, one outreach unit {by_unit['outreach_unit']:.2f}."
    )
    print(
        "Each cell's released value is within its margin of the true count in 95 of 100 "
        f"releases; values below {params.threshold} are shown as <{params.threshold}."
    )
    header = (
        f"{'table':28} {'epsilon':>8} {'unit':>14} {'cells':>6} {'margin (95%)':>13} {'std err':>8}"
    )
    print(header)
    for name, t in tables.items():
        margin = (
            f"±{t['moe95_min']}"
            if t["moe95_min"] == t["moe95_max"]
            else f"±{t['moe95_min']}-{t['moe95_max']}"
        )
        epsilon = f"{t['epsilon']:.3f}" if t["measured"] else "derived"
        print(
            f"{name:28} {epsilon:>8} {t['unit']:>14} {t['cells']:>6} {margin:>13} "
            f"{t['std_error']:>8.2f}"
        )
    return 0


def cmd_budget(args: argparse.Namespace) -> int:
    from infra.publish import budget_json, budget_report

    if args.year is None:
        args.budget_parser.error("the following arguments are required: --year")
    settings = existing_store(_settings(args))
    if args.json:
        summary: dict[str, Any] = budget_json(settings, args.year)
        print(json.dumps(summary, indent=2, default=str))
    else:
        print(budget_report(settings, args.year), end="")
    return 0


def cmd_budget_allocate(args: argparse.Namespace) -> int:
    from infra.publish import allocate_budget
    from privacy.budget import BudgetError

    settings = _settings(args)
    try:
        budget = allocate_budget(settings, args.year, args.epsilon, args.allocated_by)
    except BudgetError as refused:
        print(f"cmm budget allocate: {str(refused).removeprefix('refused: ')}", file=sys.stderr)
        return EXIT_REFUSED
    print(
        f"the {args.year} privacy budget is epsilon {budget.total:g}, allocated by "
        f"{budget.allocated_by} at {budget.allocated_at}"
    )
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("publish", help="release the year's public tables (safe open data)")
    p.add_argument("--data-dir")
    p.add_argument("--store", choices=["sqlite", "postgres"])
    p.add_argument("--year", type=year_arg, required=True, help="the year, e.g. 2012")
    p.add_argument(
        "--as-of",
        type=date_arg,
        help="cut-off date YYYY-MM-DD, on or after the year's end (required unless --dry-run)",
    )
    p.add_argument("--out", help="directory for the data package (required unless --dry-run)")
    p.add_argument(
        "--method",
        choices=["dp", "suppression"],
        default="dp",
        help="dp: differential privacy (default, open data); suppression: exact counts with "
        "cell suppression, for partners under agreement",
    )
    p.add_argument(
        "--epsilon",
        type=float,
        help="privacy loss of this release (dp), spent from the year's allocation (default 5.0)",
    )
    p.add_argument("--threshold", type=int, default=5, help="small-cell threshold (>= 3)")
    p.add_argument(
        "--protection",
        type=float,
        help="suppression: upper and lower protection level of every small cell and "
        "change (default: the threshold)",
    )
    p.add_argument("--released-by", help="who releases (default: the login name)")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="dp: show every table's epsilon and expected error from the public parameters "
        "alone; reads no data and spends nothing",
    )
    p.add_argument("--json", action="store_true", help="with --dry-run: the figures as JSON")
    p.set_defaults(func=cmd_publish, publish_parser=p)

    p = sub.add_parser(
        "budget",
        help="the year's privacy budget: allocated, spent, remaining; `allocate` opens a year",
    )
    p.add_argument("--data-dir")
    p.add_argument("--store", choices=["sqlite", "postgres"])
    p.add_argument("--year", type=year_arg)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_budget, budget_parser=p)
    actions = p.add_subparsers(dest="budget_action", metavar="{allocate}")
    a = actions.add_parser(
        "allocate",
        help="open a year with its privacy budget (once; at most CMM_MAX_YEAR_EPSILON, default 10)",
    )
    # SUPPRESS: given before `allocate`, the options are not reset by the sub-command.
    a.add_argument("--data-dir", default=argparse.SUPPRESS)
    a.add_argument("--store", choices=["sqlite", "postgres"], default=argparse.SUPPRESS)
    a.add_argument("--year", type=year_arg, required=True)
    a.add_argument("--epsilon", type=float, required=True, help="the year's total epsilon")
    a.add_argument("--allocated-by", help="who allocates (default: the login name)")
    a.set_defaults(func=cmd_budget_allocate)
