"""LMS grade files (issue 9), on records made here (fast; the slow shard test writes them from
a real merged run): Moodle's and Canvas's layouts, escaping, and nothing silently dropped."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from d2l_tconv_grader.lms import CANVAS_COLUMNS, export, read_roster, report_section


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
                                ["Lee, Ann", "101", "U1", "ann", "A", "6"]]
    assert done.no_identifier == ["bob"]  # no name, Canvas id or SIS id: not written


@pytest.mark.parametrize("text, message", [
    ("name,email\na,b\n", "needs a 'submission' column"),
    ("submission,email\na,b\na.ipynb,c\n", "'a' listed twice"),
    ("submission,email\n,b\n", "empty submission name"),
])
def test_bad_rosters_are_refused_by_line(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        _roster(tmp_path, text)
