"""The dimensions of the published tables: each column's titles and the code list its values
come from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from domain import codes
from domain.countries import COUNTRIES, Region
from privacy.model._release import TOTAL


@dataclass(frozen=True)
class Dimension:
    """A dimension column: its name, titles, and the code list its values come from.

    ``labels`` maps each valid code to its (English, Danish) label; it is empty for a
    dimension that is not coded (the year), whose values are then not constrained to a list.
    """

    name: str
    title_en: str
    title_da: str
    code_list: str
    labels: Mapping[str, tuple[str, str]]
    field_type: Literal["string", "integer"] = "string"

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(self.labels)

    def label(self, code: object, lang: Literal["en", "da"] = "en") -> str:
        """The label of ``code``; the code itself when it is not in the list (never fails,
        because a report must still render a value the code list has since retired)."""
        if str(code) == TOTAL:
            return "Total" if lang == "en" else "I alt"
        pair = self.labels.get(str(code))
        if pair is None:
            return str(code)
        return pair[0] if lang == "en" else pair[1]


def _enum_labels(members: Iterable[Any]) -> Mapping[str, tuple[str, str]]:
    return MappingProxyType({str(m.value): (m.label_en, m.label_da) for m in members})


def _dim(name: str, en: str, da: str, enum: type[codes.Coded] | type[Region]) -> Dimension:
    return Dimension(name, en, da, enum.__name__, _enum_labels(list(enum)))


YEAR = Dimension("year", "Year", "År", "", MappingProxyType({}), field_type="integer")
AUTHORITY = _dim("authority", "Assessing authority", "Vurderende myndighed", codes.Authority)
CHANNEL_GROUP = _dim("channel_group", "Contact channel group", "Kontaktgruppe", codes.ChannelGroup)
CHANNEL = _dim("channel", "Contact channel", "Kontaktvej", codes.Channel)
REGION = _dim("region", "Region of origin", "Oprindelsesregion", Region)
CITIZENSHIP = Dimension(
    "citizenship",
    "Citizenship",
    "Statsborgerskab",
    "ISO 3166-1 alpha-2 (domain.countries; XX = unknown or stateless; other_<region> = the "
    "countries of the region a DP release does not list)",
    MappingProxyType(
        {
            **{c.code: (c.name_en, c.name_da) for c in COUNTRIES.values()},
            **{
                f"other_{r.value}": (f"Other countries, {r.label_en}", f"Andre lande, {r.label_da}")
                for r in Region
            },
        }
    ),
)
EXPLOITATION = _dim(
    "exploitation", "Form of exploitation", "Udnyttelsesform", codes.ExploitationForm
)
EXPLOITATION_GROUP = _dim(
    "exploitation_group",
    "Form of exploitation, grouped",
    "Udnyttelsesform, grupperet",
    codes.ExploitationGroup,
)
INDUSTRY = _dim("industry", "Industry", "Branche", codes.Industry)
GENDER = _dim("gender", "Gender", "Køn", codes.Gender)
AGE_BAND = _dim("age_band", "Age at identification", "Alder ved identifikation", codes.AgeBand)
# Named support_status, not status, in released tables: ``status`` is the value column that
# says whether a cell is published or suppressed.
STATUS = _dim(
    "support_status", "Support status at cut-off", "Status ved opgørelse", codes.SupportStatus
)
CALLER = _dim("caller", "Caller", "Opringer", codes.CallerType)
REASON = _dim("reason", "Reason for the call", "Årsag til opkaldet", codes.CallReason)
PLACE = _dim("place", "Place", "Sted", codes.Place)
ASSESSED_VICTIMS = "assessed_victims"
"""Outreach measure derived from the facts, not logged by the teams: the year's victims first
contacted at the place (the same code as ``projections.report.ASSESSED_VICTIMS``)."""

MEASURE = Dimension(
    "measure",
    "Measure",
    "Mål",
    "OutreachMeasure (+ assessed_victims)",
    MappingProxyType(
        {
            **_enum_labels(list(codes.OutreachMeasure)),
            ASSESSED_VICTIMS: ("Assessed victims first met here", "Vurderede ofre mødt her"),
        }
    ),
)
