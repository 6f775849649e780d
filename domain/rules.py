"""The contract's rules in the words of the validators that check them.

JSON Schema cannot say everything the models check: a rule that spans fields, a check of
the JSON text itself. A validator that checks such a rule states it with :func:`checks`,
as the exported contract words it (``domain.contract_schema`` reads them back), so a rule
and its check are written, and changed, in one place. A rule of a validator that a type
carries (``Timestamp``) may say ``{fields}``: the export puts in the names of the fields
that have the type.

The decorator returns the validator itself, not a wrapper, so checking costs nothing more.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

_F = TypeVar("_F", bound=Callable[..., Any])
_RULES = "__contract_rules__"


def checks(*rules: str) -> Callable[[_F], _F]:
    """Mark a validator with the rules it checks (kept in the order given)."""

    def mark(validator: _F) -> _F:
        setattr(validator, _RULES, (*rules_of(validator), *rules))
        return validator

    return mark


def rules_of(validator: object) -> tuple[str, ...]:
    """The rules a validator was marked with by :func:`checks`; none if it was not."""
    rules: tuple[str, ...] = getattr(validator, _RULES, ())
    return rules
