"""Grade-import files for a learning management system (Moodle, Canvas) from a grading run.

    python -m d2l_tconv_grader SUBMISSIONS --out OUT --roster roster.csv --lms moodle
    python -m d2l_tconv_grader merge OUT_0 OUT_1 --out OUT --roster roster.csv --lms canvas

``roster.csv`` maps each submission (its file name, with or without ``.ipynb``) to the student:
a ``submission`` column, then whichever identifiers the LMS needs: ``email`` or ``idnumber``
(Moodle), ``name``, ``canvas_id``, ``sis_user_id``, ``sis_login_id``, ``section`` (Canvas).

The layouts are the ones each LMS documents for its CSV grade import:

* Moodle (Grades > Import > CSV file): one identifier column, ``email`` (map it to "Email
  address") or ``idnumber`` ("ID number"), then one column per grade item. Moodle reads no
  maximum from the file: it is the grade item's "Maximum grade" (an item created by the
  import gets Moodle's default, 100), so report.md says what to set it to;
* Canvas (Grades > Import): ``Student``, ``ID``, ``SIS User ID``, ``SIS Login ID``, ``Section``
  as in Canvas's own gradebook export, then the assignment column (name it
  ``Title (assignment id)`` with ``--lms-item`` to update an existing assignment); the second
  row, as in that export, is ``Points Possible`` with the maximum in the assignment column.

Before ``finalize`` the grade is the automatic total, out of :data:`.report.MAX_AUTO`, and
report.md says so; after a successful ``finalize`` it is the final total of
``final_grades.csv`` (automatic points plus free-text marks) out of its ``max_total``, and
the default item name says "final" instead of "automatic". Nothing is silently dropped: a submission that is not in the roster, a roster entry with no submission,
a row without the identifier the LMS needs and a submission awaiting review (its cell is left
empty, not 0) are all listed in the "LMS grade file" section of report.md and on stdout.
Every cell goes through :func:`.escape.csv_cell`.

The export asked for is kept in ``OUT_DIR/lms_export.json`` (the LMS, the item and the roster),
so that every later step that re-renders report.md (``apply``, ``finalize``, grading again
into the same OUT_DIR) makes the LMS file and its section again, from the same decisions
(:func:`refresh`).
"""

from __future__ import annotations

import argparse
import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from .escape import csv_cell, md_inline
from .report import MAX_AUTO, apply_decision, load, needs_review, points, read_decisions

ROSTER_KEYS = ("submission", "name", "email", "idnumber", "canvas_id", "sis_user_id",
               "sis_login_id", "section")
CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
DEFAULT_ITEM = "Transposed convolution exercises (automatic)"
FINAL_ITEM = "Transposed convolution exercises (final)"  # DEFAULT_ITEM after finalize
POINTS_POSSIBLE = "Points Possible"  # first cell of the second row of Canvas's CSV
SETTINGS = "lms_export.json"


@dataclass
class Export:
    """What one LMS export wrote and everything it could not match."""

    path: Path
    maximum: float = MAX_AUTO  # the points the grade column is out of
    final: bool = False  # the final total (after finalize), not the automatic one
    written: int = 0
    not_in_roster: list[str] = field(default_factory=list)
    no_submission: list[str] = field(default_factory=list)
    no_identifier: list[str] = field(default_factory=list)
    awaiting_review: list[str] = field(default_factory=list)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--roster", type=Path, default=None, metavar="ROSTER_CSV",
                   help="submission name -> student identifiers (needed by --lms)")
    p.add_argument("--lms", choices=("moodle", "canvas"), default=None,
                   help="also write OUT_DIR/lms_<moodle|canvas>.csv for the LMS's grade import")
    p.add_argument("--lms-item", default=DEFAULT_ITEM, metavar="NAME",
                   help=f"the grade item / assignment column (default {DEFAULT_ITEM!r})")


def _key(name: str) -> str:
    name = name.strip().removeprefix("'")
    return name[:-6] if name.endswith(".ipynb") else name


def read_roster(path: Path) -> dict[str, dict[str, str]]:
    """Submission name -> identifiers; ``ValueError`` naming the line for a bad roster."""
    try:
        file = open(path, newline="", encoding="utf-8-sig")
    except OSError as error:
        raise ValueError(f"--roster: cannot read {path} ({error.strerror})") from None
    roster: dict[str, dict[str, str]] = {}
    with file:
        reader = csv.DictReader(file)
        fields = [f.strip().lower() for f in reader.fieldnames or []]
        if "submission" not in fields:
            raise ValueError(f"--roster: {path} needs a 'submission' column (and identifiers "
                             f"among {', '.join(ROSTER_KEYS[1:])}); got {fields}")
        for number, row in enumerate(reader, start=2):
            entry = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
            name = _key(entry.get("submission", ""))
            if not name:
                raise ValueError(f"--roster: {path}, line {number}: empty submission name")
            if name in roster:
                raise ValueError(f"--roster: {path}, line {number}: {name!r} listed twice")
            roster[name] = entry
    return roster


def read_roster_arg(args: argparse.Namespace) -> dict | str | None:
    """The roster of ``args``, ``None`` without ``--lms``, or a usage error message."""
    if args.lms is None and args.roster is None:
        return None
    if args.lms is None or args.roster is None:
        return "--lms and --roster: give both (the LMS layout and who is who)"
    if getattr(args, "shard", None) is not None:
        return "--lms: not with --shard; pass --roster and --lms to 'merge' instead"
    try:
        return read_roster(args.roster)
    except ValueError as error:
        return str(error)


def _identifier(lms: str, entry: dict[str, str]) -> bool:
    if lms == "moodle":
        return bool(entry.get("email") or entry.get("idnumber"))
    return bool(entry.get("canvas_id") or entry.get("sis_user_id") or entry.get("name"))


def export(records: list[dict], roster: dict[str, dict[str, str]], lms: str, item: str,
           out: Path, final: dict[str, float] | None = None,
           maximum: float = MAX_AUTO) -> Export:
    """Write ``out/lms_<lms>.csv`` for ``records``; returns what was and was not matched.
    The grade is each record's automatic total, or with ``final`` (submission -> final total,
    from ``finalize``) its final total; ``maximum``: the points it is out of."""
    done = Export(out / f"lms_{lms}.csv", maximum=maximum, final=final is not None)
    by_name: dict[str, dict] = {}
    for rec in records:
        key = next((k for k in (_key(rec["file"]), rec["original_name"], rec["submission"])
                    if k in roster), None)
        if key is None:
            done.not_in_roster.append(rec["submission"])
        else:
            by_name[key] = rec
    done.no_submission = sorted(set(roster) - set(by_name))
    moodle_id = "email" if all(roster[k].get("email") for k in by_name) else "idnumber"
    header = [moodle_id, item] if lms == "moodle" else [*CANVAS_COLUMNS, item]
    rows = [] if lms == "moodle" else [[POINTS_POSSIBLE, *[""] * (len(CANVAS_COLUMNS) - 1),
                                        f"{maximum:g}"]]
    for key in sorted(by_name):
        rec, entry = by_name[key], roster[key]
        if not _identifier(lms, entry) or (lms == "moodle" and not entry.get(moodle_id)):
            done.no_identifier.append(key)
            continue
        grade = ""
        if needs_review(rec):
            done.awaiting_review.append(key)
        else:
            grade = f"{final[rec['submission']] if final is not None else points(rec):g}"
        if lms == "moodle":
            ids = [entry[moodle_id]]
        else:
            ids = [entry.get("name", ""), entry.get("canvas_id", ""),
                   entry.get("sis_user_id", ""), entry.get("sis_login_id", ""),
                   entry.get("section", "")]
        rows.append([*map(csv_cell, ids), grade])
        done.written += 1
    with open(done.path, "w", newline="", encoding="utf-8") as file:
        csv.writer(file, lineterminator="\n").writerows([[csv_cell(h) for h in header], *rows])
    return done


def report_section(done: Export, lms: str) -> str:
    """The "LMS grade file" section of report.md."""
    if done.final:
        grade = (f"the grade is the final total out of {done.maximum:g} (automatic points and "
                 "free-text marks, as in `final_grades.csv`).")
    else:
        grade = (f"the grade is the automatic total out of {done.maximum:g}, without the "
                 "free-text marks: run `finalize` for the final total.")
    where = (f"Moodle reads no maximum from the file: set the grade item's *Maximum grade* to "
             f"{done.maximum:g} before importing (an item the import creates gets 100)."
             if lms == "moodle" else
             f"The `{POINTS_POSSIBLE}` row gives the assignment's {done.maximum:g} points.")
    lines = ["", "## LMS grade file", "",
             f"`{done.path.name}` ({lms}): {done.written} row(s); {grade} {where}", ""]
    for title, names in (("Submissions not in the roster (no row written)", done.not_in_roster),
                         ("Roster entries with no submission (no row written)",
                          done.no_submission),
                         ("Roster entries without the identifier the LMS needs (no row "
                          "written)", done.no_identifier),
                         ("Awaiting review (row written with an empty grade)",
                          done.awaiting_review)):
        lines += [f"{title}: " + (", ".join(md_inline(n, 120) for n in names) or "none") + ".",
                  ""]
    return "\n".join(lines)


def write_for_args(args: argparse.Namespace, out: Path, roster: dict | None) -> Export | None:
    """The LMS export asked for by ``--lms``/``--roster`` (kept in ``OUT_DIR/lms_export.json``),
    or else the one an earlier run asked for, with its section appended to report.md."""
    if roster is not None and args.lms is not None:
        settings = {"lms": args.lms, "item": args.lms_item, "roster": roster}
        (out / SETTINGS).write_text(json.dumps(settings, ensure_ascii=False, indent=1) + "\n",
                                    encoding="utf-8")
    return refresh(out)


def refresh(out: Path, final: dict[str, float] | None = None,
            maximum: float = MAX_AUTO) -> Export | None:
    """(Re)write the LMS file of ``OUT_DIR/lms_export.json``, if there is one, from the stored
    records with the decisions of ``decisions.csv``, and append its section to report.md
    (call it after report.md was rendered). ``final`` and ``maximum``: the final totals and
    their maximum, from ``finalize`` (then the default item becomes :data:`FINAL_ITEM`)."""
    path = out / SETTINGS
    if not path.exists():
        return None
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
        roster, lms, item = settings["roster"], settings["lms"], settings["item"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not an LMS export of this grader ({error})") from None
    records, _ = load(out)
    decisions = read_decisions(out / "decisions.csv", {r["submission"] for r in records})
    records = [apply_decision(r, decisions.get(r["submission"])) for r in records]
    if final is not None and item == DEFAULT_ITEM:
        item = FINAL_ITEM
    done = export(records, roster, lms, item, out, final, maximum)
    with open(out / "report.md", "a", encoding="utf-8") as file:
        file.write(report_section(done, lms))
    unmatched = len(done.not_in_roster) + len(done.no_submission) + len(done.no_identifier)
    print(f"wrote {done.path} ({done.written} row(s); {unmatched} unmatched, "
          f"{len(done.awaiting_review)} awaiting review: see report.md)")
    return done
