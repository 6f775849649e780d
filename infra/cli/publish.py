"""``cmm publish`` and ``cmm budget``: the centre's open-data release and its privacy budget."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from infra.cli.common import (
    EXIT_OK,
    EXIT_REFUSED,
    DataDir,
    Store,
    UsageError,
    as_of_option,
    epilog,
    existing_store,
    say,
    settings_of,
    year_option,
)
from infra.cli.progress import Progress


class Method(StrEnum):
    dp = "dp"
    suppression = "suppression"


def _refusal(error: BaseException) -> str:
    """The refusal's message, said once: "refused, nothing released: ..."."""
    text = str(error).removeprefix("refused: ")
    text = text.removesuffix("; nothing released")
    return f"refused, nothing released: {text}"


def _params(epsilon: float | None, threshold: int) -> Any:
    from privacy.params import PrivacyParams

    defaults = PrivacyParams()
    return PrivacyParams(
        epsilon_total=defaults.epsilon_total if epsilon is None else epsilon, threshold=threshold
    )


def publish(
    year: Annotated[int, year_option()],
    as_of: Annotated[
        str | None,
        as_of_option("Cut-off date YYYY-MM-DD, on or after the year's end (not with --dry-run)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for the data package, empty or new (not with --dry-run)."),
    ] = None,
    data_dir: DataDir = None,
    store: Store = None,
    method: Annotated[
        Method,
        typer.Option(
            help="dp: differential privacy (open data); suppression: exact counts with cell "
            "suppression, for partners under agreement."
        ),
    ] = Method.dp,
    epsilon: Annotated[
        float | None,
        typer.Option(
            help="dp: privacy loss of this release, spent from the year's allocation "
            "(default 5.0).",
            show_default=False,
        ),
    ] = None,
    threshold: Annotated[int, typer.Option(help="Small-cell threshold (at least 3).")] = 5,
    protection: Annotated[
        float | None,
        typer.Option(
            help="suppression: upper and lower protection level of every small cell and "
            "change (default: the threshold).",
            show_default=False,
        ),
    ] = None,
    released_by: Annotated[
        str | None, typer.Option(help="Who releases (default: the login name).")
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            help="dp: every table's epsilon and expected error from the public parameters "
            "alone; reads no data and spends nothing."
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="With --dry-run: the figures as JSON.")
    ] = False,
    public: Annotated[
        bool,
        typer.Option(
            "--public",
            help="Make the package readable by everyone (files 0644, folder 0755), for "
            "publication; by default it is the owner's alone (0600, 0700).",
        ),
    ] = False,
) -> int:
    """Release the year's public tables (safe open data): with differential privacy, paid
    for from the year's privacy budget, or with cell suppression for partners."""
    if dry_run:
        return _dry_run(year, method, epsilon, threshold, as_json)
    missing = [flag for flag, value in (("--as-of", as_of), ("--out", out)) if value is None]
    if missing:
        raise UsageError(f"missing {' and '.join(missing)} (needed unless --dry-run)")
    assert as_of is not None and out is not None
    from application.publish_dp import publish_dp
    from application.publish_partners import publish_sdc
    from application.report import check_as_of
    from infra.package_out import OutputRefused
    from infra.wiring import adapters
    from privacy.budget import BudgetError

    check_as_of(year, as_of)
    ports = adapters(existing_store(settings_of(data_dir, store)))
    progress = Progress("projecting")
    if method is Method.suppression:
        from privacy.sdc import ProtectionError

        try:
            release = publish_sdc(
                ports, year, as_of, out, threshold, protection, released_by,
                progress=lambda d, t: progress(d, t),
            )  # fmt: skip
        except (ProtectionError, OutputRefused) as refused:
            progress.stop()
            _audit(ports, year, as_of, method, released_by, None)
            say(f"cmm publish: refused, nothing released: {refused}")
            return EXIT_REFUSED
    else:
        params = _params(epsilon, threshold)
        try:
            release = publish_dp(
                ports, year, as_of, out, params, released_by,
                progress=lambda d, t: progress(d, t),
            )  # fmt: skip
        except (BudgetError, OutputRefused) as refused:
            progress.stop()
            _audit(ports, year, as_of, method, released_by, None)
            say(f"cmm publish: {_refusal(refused)}")
            return EXIT_REFUSED
    progress.stop()
    _audit(ports, year, as_of, method, released_by, release.metadata.get("release_id"))
    if public:
        from infra.safe_files import PUBLIC_DIR, PUBLIC_FILE, set_tree_modes

        set_tree_modes(out, PUBLIC_FILE, PUBLIC_DIR)
    suppressed = sum(int((t["status"] == "suppressed").sum()) for t in release.tables.values())
    print(
        f"released {len(release.tables)} tables for {year} as of {as_of} "
        f"({release.metadata.get('method', method.value)}); {suppressed} cells suppressed; "
        f"package in {out}"
    )
    return EXIT_OK


def _audit(
    ports: Any,
    year: int,
    as_of: str,
    method: Method,
    released_by: str | None,
    release_id: object,
) -> None:
    """A publish from the command line in the same audit trail as the server's: who (the
    login name), what (the year, cut-off, method and release id; none when refused), when
    and from which host. Refusals are recorded too, as the server records failed calls."""
    import getpass
    import socket

    from application.access import record_access

    assert ports.open_access_ledger is not None
    record_access(
        ports.open_access_ledger(),
        who=f"{getpass.getuser()} (command line)",
        role=None,
        action="published" if release_id is not None else "publish_refused",
        route="cmm publish",
        status=0,
        client=socket.gethostname(),
        detail={
            "year": year,
            "as_of": as_of,
            "method": method.value,
            "release_id": None if release_id is None else str(release_id),
            "released_by": released_by,
        },
    )


def _dry_run(
    year: int, method: Method, epsilon: float | None, threshold: int, as_json: bool
) -> int:
    """``cmm publish --dry-run``: every table's epsilon and expected error from the public
    parameters alone. Reads no data, draws no noise, spends nothing."""
    from privacy.release import expected_accuracy

    if method is not Method.dp:
        raise UsageError("--dry-run is for --method dp")
    params = _params(epsilon, threshold)
    tables = expected_accuracy(year, params)
    if as_json:
        document = {
            "year": year,
            "epsilon_total": params.epsilon_total,
            "epsilon_by_unit": params.epsilon_by_unit(),
            "threshold": params.threshold,
            "tables": tables,
        }
        print(json.dumps(document, indent=2))
        return EXIT_OK
    by_unit = params.epsilon_by_unit()
    print(
        f"dry run for {year}: nothing read, nothing spent. A release would spend epsilon "
        f"{params.epsilon_total:g}; one person loses at most {by_unit['person']:.2f}, one call "
        f"{by_unit['call']:.2f}, one outreach unit {by_unit['outreach_unit']:.2f}."
    )
    print(
        "Each cell's released value is within its margin of the true count in 95 of 100 "
        f"releases; values below {params.threshold} are shown as <{params.threshold}."
    )
    print(
        f"{'table':28} {'epsilon':>8} {'unit':>14} {'cells':>6} {'margin (95%)':>13} {'std err':>8}"
    )
    for name, t in tables.items():
        margin = (
            f"±{t['moe95_min']}"
            if t["moe95_min"] == t["moe95_max"]
            else f"±{t['moe95_min']}-{t['moe95_max']}"
        )
        spent = f"{t['epsilon']:.3f}" if t["measured"] else "derived"
        print(
            f"{name:28} {spent:>8} {t['unit']:>14} {t['cells']:>6} {margin:>13} "
            f"{t['std_error']:>8.2f}"
        )
    return EXIT_OK


budget_app = typer.Typer(
    name="budget",
    help="The year's privacy budget: allocated, spent, remaining; `allocate` opens a year.",
    short_help="The year's privacy budget; `allocate` opens a year.",
    invoke_without_command=True,
    epilog="\b\nexamples:\n  cmm budget --year 2012\n  cmm budget --year 2012 --json\n"
    "  cmm budget allocate --year 2012 --epsilon 5",
)


@budget_app.callback()
def budget(
    ctx: typer.Context,
    year: Annotated[int | None, year_option()] = None,
    data_dir: DataDir = None,
    store: Store = None,
    as_json: Annotated[bool, typer.Option("--json", help="The ledger as JSON.")] = False,
) -> int | None:
    """The year's privacy budget: what was allocated, what each release spent, what remains,
    and the year's partner releases."""
    ctx.obj = {"data_dir": data_dir, "store": store}
    if ctx.invoked_subcommand is not None:
        return None
    from application.budget import budget_of_year, render_budget
    from infra.wiring import adapters

    if year is None:
        raise UsageError("missing --year (the year whose budget to show, e.g. 2012)")
    summary = budget_of_year(adapters(existing_store(settings_of(data_dir, store))), year)
    if as_json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        print(render_budget(summary), end="")
    return EXIT_OK


@budget_app.command(
    short_help="Open a year with its privacy budget (once).",
    epilog="\b\nexamples:\n  cmm budget allocate --year 2012 --epsilon 5 --allocated-by alice",
)
def allocate(
    ctx: typer.Context,
    year: Annotated[int, year_option()],
    epsilon: Annotated[float, typer.Option(help="The year's total epsilon.")],
    data_dir: DataDir = None,
    store: Store = None,
    allocated_by: Annotated[
        str | None, typer.Option(help="Who allocates (default: the login name).")
    ] = None,
) -> int:
    """Open a year with its privacy budget (once; at most CMM_MAX_YEAR_EPSILON, default 10)."""
    from application.budget import allocate_budget
    from infra.wiring import adapters
    from privacy.budget import BudgetError

    given = ctx.obj or {}  # options given before `allocate`
    settings = settings_of(data_dir or given.get("data_dir"), store or given.get("store"))
    try:
        budget = allocate_budget(adapters(settings), year, epsilon, allocated_by)
    except BudgetError as refused:
        say(f"cmm budget allocate: {str(refused).removeprefix('refused: ')}")
        return EXIT_REFUSED
    print(
        f"the {year} privacy budget is epsilon {budget.total:g}, allocated by "
        f"{budget.allocated_by} at {budget.allocated_at}"
    )
    return EXIT_OK


def register(app: typer.Typer) -> None:
    app.command(
        short_help="Release the year's tables (safe open data).",
        epilog=epilog(
            "cmm budget allocate --year 2012 --epsilon 5",
            "cmm publish --dry-run --year 2012",
            "cmm publish --year 2012 --as-of 2013-01-31 --out open-data-2012",
            "cmm publish --method suppression --year 2012 --as-of 2013-01-31 --out partners",
        ),
    )(publish)
    app.add_typer(budget_app)
