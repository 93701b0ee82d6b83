"""Grading a class on several machines: shards, the run manifest, and merging shard outputs.

    python -m d2l_tconv_grader SUBMISSIONS --out OUT_0 --seed S --shard 0/3   # on machine 0
    ...                                                       --shard 2/3   # on machine 2
    python -m d2l_tconv_grader merge OUT_0 OUT_1 OUT_2 --out OUT

``--shard I/N`` (``0 <= I < N``, 0-based like a Kubernetes completion index or a Slurm array
``--array=0-(N-1)``) grades the submissions whose file name hashes (SHA-256, so the same on
every machine and Python) to ``I`` modulo ``N``. Every grading run writes ``OUT/manifest.json``
(:func:`manifest`): the seed, the grader's and the rubric's versions (hashes of their source),
the limits, the shard, every submission file in the folder and those this run graded. ``merge``
refuses outputs that do not fit together: a different seed, grader, rubric or limits, a
different folder listing, a shard given twice or missing, a submission graded twice or not at
all. It then renders the merged records with the same writer as one run (:func:`.report.render`),
so three shards merged give the files one run with the same ``--seed`` gives.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
from pathlib import Path

import d2l_tconv
from d2l_tconv.exercise_checks import FREE_TEXT, PARTS

from . import lms
from .report import DECISION_COLUMNS, MARK_COLUMNS, load, render
from .rubric import RUBRIC

MANIFEST = "manifest.json"
FORMAT = 1
_SHEET_KEYS = ("submission", "question", "max_points")  # filled in by the grader, not by hand
#: (package folder, pattern): the files whose source is the grader's version.
_GRADER_FILES = ((Path(__file__).resolve().parent, "*.py"),
                 (Path(d2l_tconv.__file__).resolve().parent, "exercise_checks.py"))


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` -> ``(I, N)`` with ``0 <= I < N``; ``argparse.ArgumentTypeError`` otherwise."""
    index, slash, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i = n = -1
    if not slash or n < 1 or not 0 <= i < n:
        raise argparse.ArgumentTypeError(
            f"expected I/N with 0 <= I < N (0-based shard index), got {text!r}")
    return i, n


def shard_of(file_name: str, count: int) -> int:
    """The shard (``0 .. count-1``) of a submission file: a stable hash of its name."""
    digest = hashlib.sha256(file_name.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % count


def select(paths: list[Path], shard: tuple[int, int] | None) -> list[Path]:
    """The paths of ``shard`` (all of them when ``shard`` is ``None``)."""
    if shard is None:
        return paths
    index, count = shard
    return [p for p in paths if shard_of(p.name, count) == index]


def _digest(chunks: list[bytes]) -> str:
    h = hashlib.sha256()
    for chunk in chunks:
        h.update(len(chunk).to_bytes(8, "big") + chunk)
    return h.hexdigest()[:16]


def grader_version() -> str:
    """A hash of the grader's source (this package and the check code of ``d2l_tconv``)."""
    files = sorted({(f"{package.name}/{p.name}", p)
                    for package, pattern in _GRADER_FILES for p in package.glob(pattern)})
    return _digest([name.encode() + b"\0" + p.read_bytes() for name, p in files])


def rubric_version() -> str:
    """A hash of the points of every part and the free-text rubric."""
    data = {"parts": [[p.id, p.points] for p in PARTS], "free_text": [q.id for q in FREE_TEXT],
            "rubric": RUBRIC}
    return _digest([json.dumps(data, sort_keys=True, ensure_ascii=False).encode()])


def manifest(seed: int, limits: dict, shard: tuple[int, int] | None, all_files: list[str],
             graded: list[str]) -> dict:
    """What ``merge`` needs to know about one grading run."""
    index, count = shard if shard is not None else (0, 1)
    return {"format": FORMAT, "seed": seed, "grader_version": grader_version(),
            "rubric_version": rubric_version(), "limits": limits,
            "shard": {"index": index, "count": count},
            "submission_files": sorted(all_files), "graded_files": sorted(graded)}


def write_manifest(out: Path, data: dict) -> Path:
    path = out / MANIFEST
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path


def read_manifest(out: Path) -> dict:
    path = out / MANIFEST
    if not path.is_file():
        raise ValueError(f"{out}: no {MANIFEST} (not the OUT_DIR of a grading run)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path}: expected a manifest of format {FORMAT}")
    return data


def check_fit(manifests: list[tuple[Path, dict]]) -> list[str]:
    """Every reason why these grading runs cannot be merged (empty: they fit)."""
    problems: list[str] = []
    first_path, first = manifests[0]
    for key, what in (("seed", "seed"), ("grader_version", "grader version"),
                      ("rubric_version", "rubric version"), ("limits", "limits"),
                      ("submission_files", "list of submission files")):
        for path, data in manifests[1:]:
            if data.get(key) != first.get(key):
                problems.append(f"{path}: a different {what} than {first_path} "
                                f"({_short(data.get(key))} vs {_short(first.get(key))})")
    counts = {data["shard"]["count"] for _, data in manifests}
    if len(counts) > 1:
        problems.append(f"the shard counts differ: {sorted(counts)}")
    else:
        count = counts.pop()
        seen: dict[int, Path] = {}
        for path, data in manifests:
            index = data["shard"]["index"]
            if index in seen:
                problems.append(f"shard {index}/{count} given twice: {seen[index]} and {path}")
            seen[index] = path
        missing = sorted(set(range(count)) - set(seen))
        if missing:
            problems.append("missing shard(s): " + ", ".join(f"{i}/{count}" for i in missing))
    owner: dict[str, Path] = {}
    for path, data in manifests:
        for name in data["graded_files"]:
            if name in owner:
                problems.append(f"{name!r} graded twice: in {owner[name]} and {path}")
            owner[name] = path
    ungraded = sorted(set(first.get("submission_files", [])) - set(owner))
    if ungraded:
        problems.append(f"{len(ungraded)} submission(s) graded by no shard: "
                        + ", ".join(map(repr, ungraded[:20])))
    return problems


def _short(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _sheet_rows(outs: list[Path], name: str, columns: list[str]) -> list[list[str]]:
    """The rows of the instructor's sheet ``name`` (decisions, free-text marks) of every shard
    that has something filled in beyond its keys."""
    rows = []
    for out in outs:
        path = out / name
        if not path.is_file():
            continue
        with open(path, newline="", encoding="utf-8") as file:
            for row in csv.DictReader(file):
                values = [(row.get(c) or "") for c in columns]
                if any((row.get(c) or "").strip() for c in columns if c not in _SHEET_KEYS):
                    rows.append(values)
    return rows


def merge(outs: list[Path], out: Path) -> tuple[list[dict], dict]:
    """Merge the grading runs in ``outs`` into ``out``; raises ``ValueError`` listing every
    reason when they do not fit together. Returns the merged records and run facts."""
    if len({o.resolve() for o in outs}) != len(outs):
        raise ValueError("an OUT_DIR is given twice")
    if out.resolve() in {o.resolve() for o in outs}:
        raise ValueError("--out must differ from every shard's OUT_DIR")
    manifests = [(o, read_manifest(o)) for o in outs]
    problems = check_fit(manifests)
    if problems:
        raise ValueError("these outputs do not fit together:\n- " + "\n- ".join(problems))
    records: list[dict] = []
    runs: list[dict] = []
    for o, data in manifests:
        recs, run = load(o)
        files = sorted(r["file"] for r in recs)
        if files != data["graded_files"]:
            raise ValueError(f"{o}: details/ does not match its manifest's graded files")
        records += recs
        runs.append(run)
    records.sort(key=lambda r: r["submission"])
    run = {**runs[0], "seconds": max(r["seconds"] for r in runs)}
    out.mkdir(parents=True, exist_ok=True)
    for name, columns in (("decisions.csv", DECISION_COLUMNS),
                          ("free_text_marks.csv", MARK_COLUMNS)):
        rows = _sheet_rows(outs, name, columns)
        if rows and not (out / name).exists():
            with open(out / name, "w", newline="", encoding="utf-8") as file:
                csv.writer(file, lineterminator="\n").writerows([columns, *rows])
    records = render(out, records, run)
    first = manifests[0][1]
    write_manifest(out, {**first, "shard": {"index": 0, "count": 1},
                         "graded_files": sorted(first["submission_files"]),
                         "merged_from": [str(o) for o in outs]})
    return records, run


def main(argv: list[str]) -> int:
    """``merge OUT_1 ... OUT_N --out OUT``: 0 merged, 2 refused or usage error."""
    p = argparse.ArgumentParser(
        prog="python -m d2l_tconv_grader merge",
        description="Merge the OUT_DIRs of the shards of one grading run (--shard I/N, the "
                    "same --seed) into one OUT_DIR, as if graded in one run.")
    p.add_argument("outs", type=Path, nargs="+", metavar="OUT_I")
    p.add_argument("--out", type=Path, required=True, metavar="OUT_DIR")
    lms.add_arguments(p)
    args = p.parse_args(argv)
    roster = lms.read_roster_arg(args)
    if isinstance(roster, str):
        print(roster, file=sys.stderr)
        return 2
    try:
        records, _ = merge(args.outs, args.out)
    except ValueError as error:
        print(f"merge: refused: {error}", file=sys.stderr)
        return 2
    print(f"merged {len(args.outs)} shard(s), {len(records)} submission(s) into {args.out}")
    lms.write_for_args(args, args.out, roster)
    return 0
