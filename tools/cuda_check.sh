#!/bin/bash
# The project's checks on a CUDA GPU machine that has PyTorch, pytest, hypothesis and matplotlib
# but no network (e.g. a lent GPU box): the device-aware tests on the CPU and CUDA, every
# notebook cell re-executed by nbval with `device = d2l.try_gpu()` on the GPU, and the benchmark.
#
#   bash tools/cuda_check.sh fetch   # here, with network: wheels of what the GPU machine lacks,
#                                    # at constraints.txt's versions, into .whl/ (git-ignored)
#   bash tools/cuda_check.sh run     # there, from the repository root, with .whl/ copied along
#
# PYTHON (default python3) is the GPU machine's Python; WHEEL_PYTHON (default 3.12) its version.
# Results also go to $OUT (default .cuda-check/): pytest.log, nbval.log, bench_cuda.txt.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PYTHON=${PYTHON:-python3}
# What a GPU image with PyTorch usually lacks: the notebook stack, d2l, the widgets, the font.
PACKAGES="asttokens comm d2l debugpy executing fastjsonschema ipykernel ipython
  ipython_pygments_lexers ipywidgets jedi jsonschema jsonschema-specifications jupyter_client
  jupyter_core jupyterlab_widgets jupytext matplotlib-fontja matplotlib-inline mdit-py-plugins
  nbclient nbformat nbval nest-asyncio2 parso pexpect platformdirs prompt_toolkit ptyprocess
  pure_eval pyzmq referencing rpds-py stack-data tornado traitlets wcwidth widgetsnbextension"

pinned() {  # NAME==VERSION from constraints.txt ('-' and '_' alike)
  grep -i -E "^${1//[-_]/[-_]}==" constraints.txt || { echo "not in constraints.txt: $1" >&2; exit 1; }
}

case "${1:-}" in
fetch)
  specs=$(for name in $PACKAGES; do pinned "$name"; done) || exit 1
  platforms=""
  for p in manylinux_2_34 manylinux_2_31 manylinux_2_28 manylinux_2_27 manylinux_2_17 manylinux2014 manylinux1; do
    platforms+=" --platform ${p}_x86_64"
  done
  # shellcheck disable=SC2086  # word splitting of the lists is intended
  "$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version "${WHEEL_PYTHON:-3.12}" \
    --implementation cp $platforms -d .whl $specs
  echo "$(ls .whl/*.whl | wc -l) wheels in .whl/ ($(du -sh .whl | cut -f1))"
  ;;
run)
  OUT=${OUT:-.cuda-check}
  mkdir -p "$OUT"
  export PYTHONUNBUFFERED=1
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/d2l-tconv-site .whl/*.whl >/dev/null || { echo "wheel install failed"; exit 1; }
  export PYTHONPATH=/tmp/d2l-tconv-site:$ROOT  # the notebooks' kernels import d2l_tconv from here
  "$PYTHON" -c "import sys, torch; print('Python', sys.version.split()[0], '| torch', torch.__version__,
'| CUDA', torch.version.cuda, torch.cuda.get_device_name() if torch.cuda.is_available()
else 'not available: the tests run on the CPU only')" || exit 1
  rc=0
  # addopts off: the project's own addopts name plugins and options of its full environment
  echo "== 1. device-aware tests (CPU and CUDA)"
  "$PYTHON" -m pytest -o addopts="" -p no:cacheprovider --rootdir . -q -rs -n 8 \
    tests/ops tests/notebooks/test_book_examples.py tests/notebooks/test_notebooks.py \
    tests/exercises/test_exercise_checks.py >"$OUT/pytest.log" 2>&1 || rc=1
  tail -3 "$OUT/pytest.log"
  echo "== 2. every notebook cell by nbval, on the GPU (one notebook per worker)"
  "$PYTHON" -m pytest -o addopts="" -p no:cacheprovider --rootdir . -q -rs -n 4 --dist loadfile \
    --nbval --nbval-current-env --nbval-sanitize-with=tests/nbval_sanitize.cfg \
    notebooks exercises/solutions >"$OUT/nbval.log" 2>&1 || rc=1
  tail -3 "$OUT/nbval.log"
  echo "== 3. benchmark on CUDA"
  "$PYTHON" benchmarks/bench_trans_conv.py --device cuda --quick 2>&1 | tee "$OUT/bench_cuda.txt" \
    | grep -E "geometric|worst" || rc=1
  exit $rc
  ;;
*)
  sed -n '2,12p' "$0"
  exit 2
  ;;
esac
