"""Statistical disclosure control (SDC): exact counts for partners, protected by suppression.

``cmm publish --method suppression`` releases exact counts to partners under a data-sharing
agreement. There is no noise, so protection comes from hiding cells, and hiding a small cell is
not enough when totals are published: a single hidden cell in a row is its total minus the
other cells, and the tables of a year are linked (shared totals, subsets, margin tables).

:func:`release_sdc` (the release) protects every table of the year, and every earlier partner
release of that year, as one system: :mod:`privacy.sdc_joint` states the attacker model and
the guarantee (upper and lower protection levels around each small cell and each small
change, with hidden cells known to be at least 1 because zeros are always published), chooses
the secondary suppressions by MILP and proves the pattern by integer programming.

* **Primary suppression (threshold rule).** A cell (interior or margin) with
  ``0 < count < threshold`` is suppressed. Zeros are published and never suppressed, not even
  as secondaries: an empty cell describes nobody, hiding every zero would hide the shape of
  every sparse table, and a zero that is never hidden makes "a hidden cell is at least 1" a
  true, public bound that the audit must and does use. (The known cost: a published zero can
  tell that *all* of a group share a trait, e.g. "every victim of forced labour in
  construction was male"; the threshold rule accepts that, as statistical offices' do.)
* **Marker.** Every suppressed cell shows the same marker, ``..`` (confidential). A ``<5``
  marker on primary cells only would itself tell the reader that the cell lies in 1-4 and
  which hidden cells are secondary.
* **Margins.** Which totals are published is part of each table's spec
  (:attr:`privacy.model.TableSpec.margins`); a margin row carries ``total`` in the dimensions
  it sums over. Margins pass through the threshold rule like any other cell.

:func:`suppress` and :func:`audit` are the single-table method (feasible interval at least
``protection`` wide, LP over one table's margins, a greedy choice of complements). They are
kept for a table on its own and as a baseline; they are **not** safe for a set of linked
tables and the release does not use them.

Privacy contract of :func:`release_sdc`: the unit is the person (or the call for hotline
tables); there is no privacy-loss budget (epsilon is not defined: counts are exact); the
mechanism is cell suppression; the small-cell threshold is ``threshold``; what is public to
the partners is every published cell and margin, the table structure and relations, the code
lists, the parameters and the year's earlier partner releases.

Where things are (import them from here):

- ``_params``: :class:`SDCParams`, :data:`DEFAULT_THRESHOLD` and :data:`MARKER`.
- ``_frames``: exact counts with their margins (:func:`default_margins`) and published frames.
- ``_single_table``: the single-table method (:func:`suppress`, :func:`suppress_primary`,
  :func:`audit`).
- ``_release``: the partner release (:func:`release_sdc`, :func:`exact_cells`,
  :class:`EarlierRelease`); :class:`ProtectionError` comes from :mod:`privacy.sdc_joint`.
"""

from __future__ import annotations

from privacy.sdc._frames import default_margins
from privacy.sdc._params import DEFAULT_THRESHOLD, MARKER, SDCParams
from privacy.sdc._release import EarlierRelease, exact_cells, release_sdc
from privacy.sdc._single_table import audit, suppress, suppress_primary
from privacy.sdc_joint import ProtectionError

__all__ = [
    "DEFAULT_THRESHOLD",
    "MARKER",
    "EarlierRelease",
    "ProtectionError",
    "SDCParams",
    "audit",
    "default_margins",
    "exact_cells",
    "release_sdc",
    "suppress",
    "suppress_primary",
]
