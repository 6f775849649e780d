"""Terminal tables: labels for codes, measures with no value left out, wide tables turned."""

from __future__ import annotations

import pandas as pd

from infra.cli.tables import FOLD_COLUMNS, _cells, _readable
from infra.report_out import label


def test_rows_of_measures_with_no_value_are_left_out_and_codes_labelled() -> None:
    table = pd.DataFrame(
        {
            "place": ["street_copenhagen", "street_copenhagen"],
            "measure": ["shifts", "visits"],
            "value": pd.array([40, None], dtype="Int64"),
            "sessions": pd.array([40, None], dtype="Int64"),
        }
    )
    shown = _readable(table, "en")
    assert len(shown) == 1
    assert shown.iloc[0]["measure"] == label("measure", "shifts") != "shifts"


def test_a_wide_table_is_turned_to_fit() -> None:
    wide = pd.DataFrame(
        {"status": ["left"], **{f"measure_{i}": [i] for i in range(FOLD_COLUMNS + 2)}}
    )
    headers, _, rows = _cells(_readable(wide, "en"), "en")
    assert len(headers) == 2 and len(rows) == FOLD_COLUMNS + 2
    narrow = wide.iloc[:, :3]
    headers, _, rows = _cells(_readable(narrow, "en"), "en")
    assert len(headers) == 3 and len(rows) == 1


def test_progress_in_a_log_shows_total_percentage_and_time_left() -> None:
    import io

    from infra.cli.progress import Progress

    log = io.StringIO()
    progress = Progress("ingest x", stream=log, every=0.0)
    progress.started -= 10.0  # as if ten seconds had passed
    progress(250, 1_000, unit="lines", about=True)
    line = log.getvalue()
    assert "250 / about 1,000 (25%) lines" in line and "30 s left" in line


def test_a_wide_case_list_is_folded_case_by_case_without_its_empty_fields() -> None:
    import io

    from infra.cli.tables import print_rows

    row = {"person_ref": "P-1", "gender": "female", "flags": None, "age": 27}
    row.update({f"field_{i}": None for i in range(FOLD_COLUMNS)})
    out = io.StringIO()
    print_rows([row, {**row, "person_ref": "P-2"}], out, empty="(no cases)")
    text = out.getvalue()
    assert text.count("P-1") == 1 and text.count("P-2") == 1
    assert label("gender", "female") in text and "27" in text
    assert "Flags" not in text and "Field 0" not in text
    empty = io.StringIO()
    print_rows([], empty, empty="(no cases)")
    assert empty.getvalue() == "(no cases)\n"


def test_a_measure_no_row_has_a_value_in_is_left_out_of_the_terminal_table() -> None:
    table = pd.DataFrame(
        {
            "status": ["left", "stayed"],
            "count": pd.array([3, 4], dtype="Int64"),
            "days_min": pd.array([None, None], dtype="Int64"),
        }
    )
    shown = _readable(table, "en")
    assert list(shown.columns) == ["status", "count"]
    headers, _, rows = _cells(shown, "en")
    assert "Fewest days" not in headers and len(rows) == 2
    kept = _readable(table.assign(days_min=pd.array([None, 9], dtype="Int64")), "en")
    assert "days_min" in kept.columns


def test_the_case_list_speaks_danish_when_asked() -> None:
    import io

    from infra.cli.tables import print_rows

    row = {"person_ref": "P-1", "gender": "female", "citizenship": "RO", "age": 27}
    english, danish = io.StringIO(), io.StringIO()
    print_rows([row], english, empty="(no cases)")
    print_rows([row], danish, empty="(ingen sager)", lang="da")
    assert label("gender", "female", "da") in danish.getvalue()
    assert label("gender", "female", "en") not in danish.getvalue()
    assert "Køn" in danish.getvalue() and "Alder" in danish.getvalue()
    assert "Gender" in english.getvalue() and "Køn" not in english.getvalue()
