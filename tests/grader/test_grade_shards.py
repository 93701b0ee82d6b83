"""Shards and merge (issue 9): three shards of a class, graded with the same --seed and merged,
give the files one run gives; merge refuses outputs that do not fit together; LMS grade
files from the merged run. Also the course-route examples: the Slurm array script run locally
with SLURM_ARRAY_TASK_ID set, and the Kubernetes Indexed Job manifest's fields.

Slow (sandboxes): one run of three notebooks and three shard runs of one each (shard 2 run by
the Slurm script, shards 0 and 1 by the command's main in this process), about 15-25 s on a
quiet machine.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from conftest import bubblewrap_sandbox, grader_main

from d2l_tconv_grader.cli import main
from d2l_tconv_grader.shards import parse_shard, select, shard_of

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "submissions"
COURSES = REPO / "exercises" / "courses"
# One per shard of three: 0, 2, 1 (checked below); monkeypatch_torch awaits review.
CLASS = ["untouched_ja", "correct_en", "monkeypatch_torch"]
SEED = "7"
pytestmark = pytest.mark.slow


def _grade(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "d2l_tconv_grader", *args], capture_output=True,
                          text=True, timeout=300, cwd=REPO, env=env)


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO)}


@pytest.fixture(scope="module")
def runs(grader_stage, tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    bubblewrap_sandbox(grader_stage)
    subs = root / "subs"
    subs.mkdir()
    for name in CLASS:
        shutil.copyfile(FIXTURES / f"{name}.fixture", subs / f"{name}.ipynb")
    common = ["--seed", SEED, "--cell-timeout", "20"]
    whole = [str(subs), "--out", str(root / "whole"), "--jobs", "2", *common]
    shards = [[str(subs), "--out", str(root / f"shard{i}"), "--jobs", "1", "--shard", f"{i}/3",
               *common] for i in range(2)]
    # The command for the whole class and (through the Slurm script) for shard 2; its main,
    # in this process and one at a time, for shards 0 and 1 (no two more interpreters).
    runs = [lambda: [_grade(*whole)], lambda: [_slurm_task(subs, root, 2)],
            lambda: [grader_main(*a) for a in shards]]
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = [result for batch in pool.map(lambda run: run(), runs) for result in batch]
    for result in done:
        assert result.returncode == 0, result.stdout + result.stderr
    return root


def _slurm_task(subs: Path, root: Path, task: int) -> subprocess.CompletedProcess:
    """exercises/courses/slurm/grade_array.sbatch run locally as array task ``task`` of 3;
    it writes root/shard<task> (through OUT_ROOT/shard-<task>, a link)."""
    (root / "slurm").mkdir(exist_ok=True)
    (root / "slurm" / f"shard-{task}").symlink_to(root / f"shard{task}")
    env = {**_env(), "SLURM_ARRAY_TASK_ID": str(task), "SLURM_ARRAY_TASK_COUNT": "3",
           "SUBMISSIONS": str(subs), "OUT_ROOT": str(root / "slurm"), "SEED": SEED,
           "GRADE_PYTHON": sys.executable, "GRADE_ARGS": "--cell-timeout 20"}
    return subprocess.run(["bash", str(COURSES / "slurm" / "grade_array.sbatch")], env=env,
                          capture_output=True, text=True, timeout=300, cwd=REPO)


def _tree(out: Path) -> dict[str, str]:
    """Every file a run wrote, as text, without what differs between two identical runs
    (the seconds each took, the manifest's shard)."""
    files = {}
    for path in sorted(out.rglob("*")):
        rel = path.relative_to(out).as_posix()
        if not path.is_file() or rel in ("manifest.json", "score_histogram.png"):
            continue
        text = path.read_text(encoding="utf-8")
        if rel.startswith("details/"):
            data = json.loads(text)
            data.pop("seconds", None)
            text = json.dumps(data, sort_keys=True)
        text = re.sub(r"graded in [\d.]+ s", "graded in _ s", text)
        files[rel] = text
    return files


def test_shards_split_the_class_by_a_stable_hash():
    assert parse_shard("0/3") == (0, 3) and parse_shard("2/3") == (2, 3)
    for bad in ("3/3", "-1/3", "1", "a/b", "0/0"):
        with pytest.raises(Exception, match="0 <= I < N"):
            parse_shard(bad)
    paths = [Path(f"{name}.ipynb") for name in CLASS]
    assert [shard_of(p.name, 3) for p in paths] == [0, 2, 1]
    parts = [select(paths, (i, 3)) for i in range(3)]
    assert sorted(p for part in parts for p in part) == sorted(paths)
    assert select(paths, None) == paths


def test_three_shards_merged_equal_one_run(runs, tmp_path):
    merged = tmp_path / "merged"
    done = _grade("merge", *(str(runs / f"shard{i}") for i in range(3)), "--out", str(merged))
    assert done.returncode == 0, done.stdout + done.stderr
    whole, parts = _tree(runs / "whole"), _tree(merged)
    assert whole.keys() == parts.keys()
    for name in whole:
        assert parts[name] == whole[name], name
    manifest = json.loads((merged / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["graded_files"] == sorted(f"{n}.ipynb" for n in CLASS)
    assert json.loads((runs / "shard1" / "manifest.json").read_text())["graded_files"] == [
        "monkeypatch_torch.ipynb"]


def _copy_with(runs: Path, tmp: Path, shard: int, change) -> Path:
    target = tmp / f"shard{shard}"
    shutil.copytree(runs / f"shard{shard}", target)
    path = target / "manifest.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")
    return target


@pytest.mark.parametrize("case, change, message", [
    ("seed", lambda d: d.update(seed=8), "different seed"),
    ("grader", lambda d: d.update(grader_version="0" * 16), "different grader version"),
    ("rubric", lambda d: d.update(rubric_version="0" * 16), "different rubric version"),
    ("limits", lambda d: d["limits"].update(cell_timeout=5), "different limits"),
    ("overlap", lambda d: d["graded_files"].append("correct_en.ipynb"), "graded twice"),
])
def test_merge_refuses_outputs_that_do_not_fit(runs, tmp_path, capsys, case, change, message):
    outs = [runs / "shard0", _copy_with(runs, tmp_path, 1, change), runs / "shard2"]
    assert main(["merge", *map(str, outs), "--out", str(tmp_path / "merged")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "merged").exists()


def test_merge_refuses_a_missing_or_repeated_shard(runs, tmp_path, capsys):
    out = str(tmp_path / "m")
    assert main(["merge", str(runs / "shard0"), str(runs / "shard1"), "--out", out]) == 2
    err = capsys.readouterr().err
    assert "missing shard(s): 2/3" in err and "graded by no shard" in err
    assert "correct_en.ipynb" in err
    again = _copy_with(runs, tmp_path, 1, lambda d: None)
    assert main(["merge", str(runs / "shard0"), str(runs / "shard1"), str(again),
                 str(runs / "shard2"), "--out", out]) == 2
    assert "given twice" in capsys.readouterr().err
    assert main(["merge", str(runs / "shard0"), str(runs / "whole"), "--out", out]) == 2
    assert "shard counts differ" in capsys.readouterr().err
    assert main(["merge", str(runs / "shard0"), "--out", str(runs / "shard0")]) == 2
    assert "--out must differ" in capsys.readouterr().err


def test_shard_needs_a_seed(tmp_path, capsys):
    (tmp_path / "subs").mkdir()
    assert main([str(tmp_path / "subs"), "--out", str(tmp_path / "o"), "--shard", "0/2"]) == 2
    assert "--shard: needs --seed" in capsys.readouterr().err


# --- LMS grade files -------------------------------------------------------------------------

def _rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


def _totals(out: Path) -> dict[str, float]:
    totals: dict[str, float] = {}
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as file:
        for row in csv.DictReader(file):
            totals[row["submission"]] = totals.get(row["submission"], 0) + float(row["points"])
    return totals


ROSTER = [["submission", "name", "email", "idnumber", "canvas_id", "sis_user_id", "section"],
          ["correct_en.ipynb", "=cmd|' /C calc'!A0", "hanako@example.ac.jp", "S001", "101",
           "U1", "A"],
          ["untouched_ja", "Suzuki, Ken", "ken@example.ac.jp", "S003", "103", "U3", "B"],
          ["monkeypatch_torch", "Ito, Mai", "mai@example.ac.jp", "S004", "104", "U4", "B"],
          ["absent_student", "Absent, Ann", "ann@example.ac.jp", "S005", "105", "U5", "B"]]


@pytest.mark.parametrize("lms", ["moodle", "canvas"])
def test_lms_files_from_a_merged_run(runs, tmp_path, capsys, lms):
    roster = tmp_path / "roster.csv"
    rows = [r for r in ROSTER if r[0] != "untouched_ja"]  # a submission not in it
    with open(roster, "w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows(rows)
    merged = tmp_path / "merged"  # main in this process (the command: the test above)
    code = main(["merge", *(str(runs / f"shard{i}") for i in range(3)), "--out", str(merged),
                 "--roster", str(roster), "--lms", lms, "--lms-item", "Exercise 14.10"])
    assert code == 0, capsys.readouterr()
    table = _rows(merged / f"lms_{lms}.csv")
    totals = _totals(runs / "whole")
    if lms == "moodle":
        assert table[0] == ["email", "Exercise 14.10"]
        grades = {row[0]: row[1] for row in table[1:]}
        assert float(grades["hanako@example.ac.jp"]) == totals["correct_en"] == 18
        assert grades["mai@example.ac.jp"] == ""  # awaiting review: empty, not 0
    else:
        assert table[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                            "Exercise 14.10"]
        assert table[1] == ["Points Possible", "", "", "", "", "18"]
        table = table[1:]
        by_id = {row[1]: row for row in table[1:]}
        assert float(by_id["101"][5]) == totals["correct_en"] == 18
        assert by_id["101"][0].startswith("'=")  # a formula-like name is escaped
        assert by_id["104"][5] == ""
    assert len(table) == 1 + 2  # correct, monkeypatch; nothing invented
    report = (merged / "report.md").read_text(encoding="utf-8")
    section = report[report.index("## LMS grade file"):]
    assert re.search(r"not in the roster.*: untouched_ja\.", section)
    assert re.search(r"with no submission.*: absent_student\.", section)
    assert re.search(r"Awaiting review.*: monkeypatch_torch\.", section)


def test_lms_options_are_checked(tmp_path, capsys):
    (tmp_path / "subs").mkdir()
    base = [str(tmp_path / "subs"), "--out", str(tmp_path / "o")]
    assert main([*base, "--lms", "moodle"]) == 2
    assert "give both" in capsys.readouterr().err
    roster = tmp_path / "r.csv"
    roster.write_text("student,email\na,b\n", encoding="utf-8")
    assert main([*base, "--lms", "moodle", "--roster", str(roster)]) == 2
    assert "needs a 'submission' column" in capsys.readouterr().err
    roster.write_text("submission,email\na,b\na.ipynb,c\n", encoding="utf-8")
    assert main([*base, "--lms", "canvas", "--roster", str(roster)]) == 2
    assert "line 3: 'a' listed twice" in capsys.readouterr().err
    assert main([*base, "--lms", "canvas", "--roster", str(roster), "--seed", "1",
                 "--shard", "0/2"]) == 2
    assert "not with --shard" in capsys.readouterr().err


# --- course-route examples ------------------------------------------------------------------

def test_slurm_array_script_runs_locally(runs):
    """The fixture ran grade_array.sbatch as task 2 of 3 (and merged it above)."""
    manifest = json.loads((runs / "slurm" / "shard-2" / "manifest.json").read_text())
    assert manifest["shard"] == {"index": 2, "count": 3}
    assert manifest["graded_files"] == ["correct_en.ipynb"]
    assert manifest["limits"]["cell_timeout"] == 20 and manifest["seed"] == int(SEED)
    script = (COURSES / "slurm" / "grade_array.sbatch").read_text(encoding="utf-8")
    assert '--hide "$OUT_ROOT"' in script
    merge = (COURSES / "slurm" / "merge.sbatch").read_text(encoding="utf-8")
    assert "--dependency" in (COURSES / "slurm" / "README.md").read_text(encoding="utf-8")
    assert "d2l_tconv_grader merge" in merge
    env = {**_env(), "SUBMISSIONS": "/x", "OUT_ROOT": "/y", "SEED": "1"}  # no task id
    done = subprocess.run(["bash", str(COURSES / "slurm" / "grade_array.sbatch")], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "SLURM_ARRAY_TASK_ID" in done.stderr


def test_kubernetes_indexed_job_manifest():
    jobs = {}
    for name in ("grade-job.yaml", "merge-job.yaml"):
        for doc in yaml.safe_load_all((COURSES / "k8s" / name).read_text(encoding="utf-8")):
            assert doc["apiVersion"] == "batch/v1" and doc["kind"] == "Job"
            jobs[doc["metadata"]["name"]] = doc
    grade = jobs["d2l-tconv-grade"]
    spec = grade["spec"]
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] == spec["parallelism"] == 3
    container = spec["template"]["spec"]["containers"][0]
    command = " ".join(container["command"] + container.get("args", []))
    assert "d2l_tconv_grader" in command and "--shard" in command and "--seed" in command
    assert "JOB_COMPLETION_INDEX" in command and f"/{spec['completions']}" in command
    assert "--hide /data/outs" in command  # no shard's student code sees the other outputs
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    assert container["resources"]["limits"]["memory"]
    # bwrap needs user namespaces: the pod must not drop them, and says so.
    assert container["securityContext"]["seccompProfile"]["type"] == "Unconfined"
    mounts = {m["name"] for m in container["volumeMounts"]}
    assert {"submissions", "outs"} <= mounts
    merge = jobs["d2l-tconv-merge"]["spec"]["template"]["spec"]["containers"][0]
    merge_args = merge["command"] + merge["args"]
    assert merge_args[4:4 + spec["completions"]] == [
        f"/data/outs/shard-{i}" for i in range(spec["completions"])]
    assert "--out" in merge_args
    dockerfile = (COURSES / "k8s" / "Dockerfile").read_text(encoding="utf-8")
    assert "bubblewrap" in dockerfile and "torch" in dockerfile and "ipython" in dockerfile
    assert container["image"].startswith("d2l-tconv-grader")
