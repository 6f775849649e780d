"""The partner release (suppression, exact counts) bound to the settings: the logic is
:mod:`application.publish_partners`'."""

from __future__ import annotations

from pathlib import Path

from application.publish_partners import (
    RECORD_ATTEMPTS,
    PartnerReleaseContention,
    earlier_releases,
    release_cells,
)
from infra.settings import Settings
from privacy.model import Release

__all__ = [
    "RECORD_ATTEMPTS",
    "PartnerReleaseContention",
    "earlier_releases",
    "publish_sdc",
    "release_cells",
]


def publish_sdc(
    settings: Settings,
    year: int,
    as_of: str,
    out_dir: Path,
    threshold: int = 5,
    protection: float | None = None,
    released_by: str | None = None,
) -> Release:
    """:func:`application.publish_partners.publish_sdc` on the configured store. Privacy
    contract: as that function's (no DP budget is spent; the release is not DP)."""
    from application.publish_partners import publish_sdc as use_case
    from infra.wiring import adapters

    return use_case(adapters(settings), year, as_of, out_dir, threshold, protection, released_by)
