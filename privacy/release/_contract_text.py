"""The privacy contract of a DP release in words, as its metadata states it: the definition,
the post-processing, what is public and what a margin of error means.
"""

from __future__ import annotations

DEFINITION = (
    "pure epsilon-differential privacy (max divergence) under adding or removing one privacy "
    "unit; tables compose sequentially, so a unit's loss is the sum over the tables it is in"
)
POSTPROCESSING = (
    "one joint generalised least-squares fit of every table from every measurement, under "
    "the public equalities between tables (each person table sums to victims_by_year, each "
    "by_region cell to its countries, each by_exploitation_group cell to its forms, each "
    "labour_by_industry cell to its genders, the labour tables to the forced_labour cell, "
    "police calls by reason to the police caller cell): unbiased for every cell; "
    "victims_by_year, by_exploitation_group and labour_by_industry are derived from the fit "
    "and measured by nothing of their own. Then integers by top-down largest-remainder "
    "rounding (each within 1 of the fit, each group summing to the integer above it), then "
    "negative values released as 0 (so a table's cells can add up to a little more than its "
    "total). Values below the threshold are shown as '<threshold' (status 'suppressed', count "
    "empty), cells and totals alike. The total is the row whose every dimension is 'total'. "
    "Outreach cells are clipped at 0 one by one."
)
PUBLIC = (
    "the code lists and every category of every table (all ISO countries, industries, "
    "statuses, ...), the reporting year and the cut-off date, the table definitions and "
    "filters, epsilon per table, the mechanism and its scale, the threshold and alpha"
)

TOTAL_RULES = {
    "own": "the fitted year total (the sum of every person table)",
    "sum": "the sum of the table's fitted cells",
    "none": "none: cells are different measures; each is clipped at 0",
}
MOE_MEANING = (
    "for each cell, |released value - true count| <= moe95 with probability >= {level} for "
    "any data: computed from the public scales and the joint fit's coefficients (noise, fit, "
    "rounding and clipping at 0 all accounted for), before the small-cell threshold"
)

DERIVED_MECHANISM = "none of its own: derived from the joint fit of the measured tables (epsilon 0)"
