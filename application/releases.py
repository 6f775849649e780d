"""The published releases, for the public: what a folder of data packages (each written by
``cmm publish --out``) holds, and nothing else.

A release is a subfolder with a ``datapackage.json``; its files are that descriptor and the
files its resources name. Every name asked for is looked up in those lists, never joined to
a path as given, so no request reaches a file outside them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DESCRIPTOR = "datapackage.json"


class NoSuchRelease(LookupError):
    """No published release or file of that name."""


def _descriptor(folder: Path) -> dict[str, Any] | None:
    path = folder / DESCRIPTOR
    if folder.name.startswith(".") or not path.is_file():  # hidden: a package being written
        return None
    try:
        found = json.loads(path.read_text(encoding="utf8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def _files(descriptor: dict[str, Any]) -> list[str]:
    named = [str(r.get("path")) for r in descriptor.get("resources", []) if isinstance(r, dict)]
    return [DESCRIPTOR, *(n for n in named if n and "/" not in n and not n.startswith("."))]


def releases(root: Path | None) -> list[dict[str, Any]]:
    """Every release under ``root``: its id (the folder's name), its title and
    description as the package says, and its files."""
    if root is None or not root.is_dir():
        return []
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        descriptor = _descriptor(folder)
        if descriptor is None:
            continue
        found.append(
            {
                "id": folder.name,
                "name": descriptor.get("name"),
                "title": descriptor.get("title"),
                "description": descriptor.get("description"),
                "created": descriptor.get("created"),
                "files": _files(descriptor),
            }
        )
    return found


def release_file(root: Path | None, release_id: str, name: str) -> Path:
    """The path of one file of a published release (:class:`NoSuchRelease` otherwise)."""
    for release in releases(root):
        if release["id"] == release_id:
            assert root is not None
            for file in release["files"]:
                path: Path = root / release_id / str(file)
                if file == name and path.is_file():
                    return path
    raise NoSuchRelease(f"no published file {name!r} in release {release_id!r}")
