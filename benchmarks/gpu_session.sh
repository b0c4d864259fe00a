#!/usr/bin/env bash
# benchmarks/gpu_check.py in one call on a lent GPU machine, whose image has no registry and
# lacks a few pure-Python packages (benchmarks/gpu_wheels.txt). Two steps:
#
#   bash benchmarks/gpu_session.sh --fetch    # here, once: the wheels into .whl/ (git-ignored)
#   bash benchmarks/gpu_session.sh            # there (the device tool's run, carry [".whl"]):
#                                             # installs them into /tmp/biosig-site, runs the check
#
# The report (gpu_check_<date>_<gpu>.md/.json), the log and nvidia-smi's view go to $OUT
# (benchmarks/results where OUT is unset). Arguments after the first are gpu_check.py's (its
# step times and GPU utilisation are sync-free by default; --sync-steps: per-step figures);
# PYTHON picks the interpreter (default python3). A CPU rehearsal in an environment without
# those packages: PYTHON=/path/to/python OUT=/tmp/out bash benchmarks/gpu_session.sh --device cpu --tiny
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
WHEELS=.whl
if [ "${1:-}" = "--fetch" ]; then
  mkdir -p "$WHEELS"
  grep -v '^#' benchmarks/gpu_wheels.txt | xargs "$PY" -m pip download -q --no-deps \
    --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux2014_x86_64 -d "$WHEELS"
  ls "$WHEELS"
  exit 0
fi
OUT=${OUT:-benchmarks/results}
mkdir -p "$OUT"
if compgen -G "$WHEELS/*.whl" >/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/biosig-site "$WHEELS"/*.whl
  export PYTHONPATH=/tmp/biosig-site:$PWD${PYTHONPATH:+:$PYTHONPATH}
else
  echo "gpu_session: no wheels in $WHEELS/ (bash benchmarks/gpu_session.sh --fetch here first)" >&2
  export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONUNBUFFERED=1
(nvidia-smi || echo "no nvidia-smi") > "$OUT/nvidia-smi.txt" 2>&1
"$PY" benchmarks/gpu_check.py --out "$OUT" "$@" 2>&1 | tee "$OUT/gpu_check.log"
