"""Joint disclosure control of a partner release: every table, every earlier release of the year.

A partner who receives ``cmm publish --method suppression`` sees every table of the year at
once, and every earlier partner release of that year. Protecting each table on its own is not
enough: ``labour_by_industry_gender`` is a subset of ``by_gender``, ``by_region`` is a margin
of ``by_citizenship``, every person table shares the year's total, and two releases at
different cut-offs differ by the corrections made in between. So one linear system holds
every cell of every table of every release of the year, and both the audit and the choice of
secondary suppressions work on that system.

**What the reader knows** (the attacker model, also stated in the release metadata):

* every published cell, and which cells are hidden (all show the same marker);
* each table's margins (:attr:`privacy.model.TableSpec.margins`), the tables that are copies
  of another's margins (:attr:`~privacy.model.TableSpec.derived_from`) and the relations
  between tables (:func:`privacy.model.cross_table_relations`: shared year totals, forced
  labour by gender at most the victims of that gender, police calls by reason summing to the
  police calls, ...), equalities and inequalities alike;
* that zeros are always published, so **every hidden cell is at least 1** (a zero is never
  hidden, not even as a secondary suppression, so this bound is true and the audit uses it);
* that counts are whole numbers (the audit solves integer programs, not only their LP
  relaxations);
* every earlier partner release of the same year, as recorded in the partner ledger.

**What is guaranteed** (upper and lower protection levels ``UPL = LPL = p``, by default the
threshold ``t``; a *sensitive* quantity is a cell with ``0 < x < t`` or a change
``d = x_new - x_old`` of one cell between this release and an earlier one with ``0 < |d| < t``):

* for every sensitive cell of true value ``x``, the reader's feasible set of whole-number
  solutions contains a solution with the cell at ``x + UPL`` or more and one with the cell at
  ``max(1, x - LPL)`` or less. So a hidden cell of 1 can be as large as ``1 + p`` (it cannot be
  below 1, which the reader knows anyway), and a reader can never tell a cell is below the
  threshold, nor bound it within ``p`` of its value;
* for every sensitive change of true value ``d``, the feasible set reaches ``d + UPL`` and
  ``d - LPL``, each clipped to what the bounds alone allow (a cell that is now a published
  zero cannot have grown). A corrected age band is not exposed by the difference of two
  releases;
* no hidden cell is pinned: a hidden cell whose value every solution fixes hides nothing and is
  published instead.

The release fails closed (:class:`ProtectionError`, nothing written) if this cannot be proved.

**How the pattern is chosen** (Fischetti and Salazar's method, as in tau-Argus and sdcTable's
``protectLinkedTables``): a master MILP (scipy's ``milp``, HiGHS) picks a least-cost set of
extra suppressions subject to cuts; for every sensitive quantity and direction an attacker LP
finds how far the quantity can move under the chosen pattern, and when it moves too little the
LP's dual gives a capacity cut (a linear condition on the suppression pattern that every
protecting pattern satisfies), which is added to the master. When the LPs pass, integer
programs check the same with integrality; a failure there adds a cut demanding one more
suppression. Cost: one per displayed cell hidden (a margin counts double), so few and small
cells are hidden.

Where things are (import them from here):

- ``_system``: one release as the reader's system (:class:`Block`, :func:`build_block`).
- ``_requirements``: the sensitive quantities and how far each must move (:class:`Requirement`).
- ``_attacker``: the stacked releases and the reader's LP and integer programs, which raise
  :class:`ProtectionError` when a program does not finish.
- ``_protect``: the master MILP, the cuts and the final proof (:func:`protect`,
  :class:`Outcome`, :func:`verify`).
"""

from __future__ import annotations

from privacy.sdc_joint._attacker import ProtectionError
from privacy.sdc_joint._protect import Outcome, protect, verify
from privacy.sdc_joint._requirements import Requirement
from privacy.sdc_joint._system import Block, build_block

__all__ = [
    "Block",
    "Outcome",
    "ProtectionError",
    "Requirement",
    "build_block",
    "protect",
    "verify",
]
