"""What a release is, and what each published table means.

A :class:`Release` is the hand-over point between the privacy step (differential privacy in
``privacy.release`` or statistical disclosure control in ``privacy.sdc``) and publication
(``privacy.package``, ``privacy.html``, ``infra.publish``). It lives here, apart from both
producers, so that neither imports the other.

:data:`TABLES` describes each published table once: titles in English and Danish, its dimensions
and the code list each dimension draws from, and the margins (totals) that are public. The data
package uses it for Table Schema enums, the HTML report for labels, and the SDC step for the
linear constraints an attacker can use.

Where things are (import them from here):

- ``_release``: :class:`Release` and what every released table shares (:data:`VALUE_COLUMNS`,
  the ``published``/``suppressed`` statuses, :data:`TOTAL` in margin rows).
- ``_dimensions``: :class:`Dimension`, each dimension column and its code list.
- ``_tables``: :class:`TableSpec`, :data:`TABLES` and :func:`dimensions_of`.
- ``_relations``: how the tables of one year constrain each other (:class:`CellRef`,
  :class:`Relation`, :func:`cross_table_relations`, :data:`PERSON_TABLES`).
"""

from __future__ import annotations

from privacy.model._dimensions import ASSESSED_VICTIMS, Dimension
from privacy.model._relations import PERSON_TABLES, CellRef, Relation, cross_table_relations
from privacy.model._release import PUBLISHED, SUPPRESSED, TOTAL, VALUE_COLUMNS, Release
from privacy.model._tables import TABLES, TableSpec, dimensions_of

__all__ = [
    "ASSESSED_VICTIMS",
    "PERSON_TABLES",
    "PUBLISHED",
    "SUPPRESSED",
    "TABLES",
    "TOTAL",
    "VALUE_COLUMNS",
    "CellRef",
    "Dimension",
    "Relation",
    "Release",
    "TableSpec",
    "cross_table_relations",
    "dimensions_of",
]
