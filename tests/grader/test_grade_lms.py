"""LMS grade files (issue 9), on records made here (fast; the slow shard test writes them from
a real merged run, the class-flow test after a real finalize): Moodle's and Canvas's layouts,
escaping, nothing silently dropped, and the automatic total before finalize, the final total
(with its maximum) after."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from d2l_tconv_grader.lms import (
    CANVAS_COLUMNS,
    POINTS_POSSIBLE,
    export,
    read_roster,
    report_section,
)
from d2l_tconv_grader.report import MAX_AUTO


def _record(name: str, points: list[float], integrity: bool = False) -> dict:
    return {"submission": name, "original_name": name, "file": f"{name}.ipynb",
            "integrity": integrity, "decision": None,
            "parts": [{"part": str(i), "points": p} for i, p in enumerate(points)]}


RECORDS = [_record("ann", [1, 2, 3]), _record("bob", [0, 0.5]), _record("cat", [3], True),
           _record("=evil", [1]), _record("dan", [2])]


def _roster(tmp_path: Path, text: str) -> dict:
    path = tmp_path / "roster.csv"
    path.write_text(text, encoding="utf-8")
    return read_roster(path)


def _rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


def test_moodle_layout_and_everything_accounted_for(tmp_path):
    roster = _roster(tmp_path, "submission,email,idnumber\n"
                               "ann.ipynb,ann@example.jp,1\nbob,bob@example.jp,2\n"
                               "cat,cat@example.jp,3\n=evil,=x@example.jp,4\n"
                               "eve,eve@example.jp,5\n")
    done = export(RECORDS, roster, "moodle", "Ex 14.10", tmp_path)
    table = _rows(done.path)
    assert table[0] == ["email", "Ex 14.10"]
    assert dict(table[1:]) == {"ann@example.jp": "6", "bob@example.jp": "0.5",
                               "cat@example.jp": "", "'=x@example.jp": "1"}
    assert done.not_in_roster == ["dan"] and done.no_submission == ["eve"]
    assert done.awaiting_review == ["cat"] and done.no_identifier == []
    section = report_section(done, "moodle")
    for name in ("dan", "eve", "cat"):
        assert name in section


def test_moodle_falls_back_to_idnumber_and_lists_rows_without_it(tmp_path):
    roster = _roster(tmp_path, "submission,email,idnumber\nann,,1\nbob,bob@example.jp,\n")
    done = export(RECORDS[:2], roster, "moodle", "Ex", tmp_path)
    assert _rows(done.path) == [["idnumber", "Ex"], ["1", "6"]]
    assert done.no_identifier == ["bob"]


def test_canvas_layout(tmp_path):
    roster = _roster(tmp_path, "submission,name,canvas_id,sis_user_id,sis_login_id,section\n"
                               "ann,\"Lee, Ann\",101,U1,ann,A\nbob,,,,,\n")
    done = export(RECORDS[:2], roster, "canvas", "Ex (55)", tmp_path)
    assert _rows(done.path) == [[*CANVAS_COLUMNS, "Ex (55)"],
                                [POINTS_POSSIBLE, "", "", "", "", f"{MAX_AUTO}"],
                                ["Lee, Ann", "101", "U1", "ann", "A", "6"]]
    assert done.no_identifier == ["bob"]  # no name, Canvas id or SIS id: not written


CANVAS_ROSTER = "submission,name,canvas_id\nann,Ann,101\nbob,Bob,102\ncat,Cat,103\n"


def test_before_finalize_the_automatic_total_and_the_report_says_so(tmp_path):
    done = export(RECORDS[:3], _roster(tmp_path, CANVAS_ROSTER), "canvas", "Ex", tmp_path)
    assert [row[-1] for row in _rows(done.path)] == ["Ex", f"{MAX_AUTO}", "6", "0.5", ""]
    section = report_section(done, "canvas")
    assert f"automatic total out of {MAX_AUTO}, without the free-text marks" in section
    assert "run `finalize`" in section and "final total" in section


@pytest.mark.parametrize("lms", ["moodle", "canvas"])
def test_after_finalize_the_final_total_out_of_the_final_maximum(tmp_path, lms):
    roster = _roster(tmp_path, "submission,name,canvas_id,email\nann,Ann,101,ann@example.jp\n"
                               "bob,Bob,102,bob@example.jp\n")
    final = {"ann": 13.5, "bob": 4.0}  # automatic 6 and 0.5 plus free-text marks
    done = export(RECORDS[:2], roster, lms, "Ex", tmp_path, final=final, maximum=26)
    table = _rows(done.path)
    grades = {row[0]: row[-1] for row in table[1:]}
    section = report_section(done, lms)
    assert "the final total out of 26 (automatic points and free-text marks" in section
    if lms == "moodle":  # the maximum is the grade item's, stated in the report
        assert grades == {"ann@example.jp": "13.5", "bob@example.jp": "4"}
        assert "set the grade item's *Maximum grade* to 26" in section
    else:  # Canvas: the Points Possible row, as Canvas's own export has it
        assert grades == {POINTS_POSSIBLE: "26", "Ann": "13.5", "Bob": "4"}
        assert table[1][:-1] == [POINTS_POSSIBLE, "", "", "", ""]


@pytest.mark.parametrize("text, message", [
    ("name,email\na,b\n", "needs a 'submission' column"),
    ("submission,email\na,b\na.ipynb,c\n", "'a' listed twice"),
    ("submission,email\n,b\n", "empty submission name"),
])
def test_bad_rosters_are_refused_by_line(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        _roster(tmp_path, text)
