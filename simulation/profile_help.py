"""How a profile is named, in words a command's help can show without loading profiles.

Kept apart from ``simulation.profile`` (pydantic models of every profile section) so that
the CLI, which shows this text in ``cmm simulate --help`` and builds its options at start-up,
does not import those models for every command."""

from __future__ import annotations

from typing import Final

PROFILE_PATH_VARIABLE: Final = "CMM_PROFILE_PATH"
"""Folders (separated as in ``PATH``) searched for a profile named ``NAME`` before the
built-in ones: a new year's profile is a file put there, with no code."""

PROFILE_HELP: Final = (
    "NAME or PATH: a profile name, looked up as NAME.json in the folders of "
    f"${PROFILE_PATH_VARIABLE} and then among the built-in profiles, or the path of a "
    "profile JSON file (a new year is a new file, no code)"
)
"""What ``--profile`` takes, in words for a command's help."""
