#!/usr/bin/env bash
# Reproduce the shipped demo model (models/demo_vitt_metric.{safetensors,onnx}) on CPU, end to end:
# render synthetic shards -> teacher -> pseudo-labels -> student -> metric fine-tune -> export -> evaluate.
# Budget: <= 35 min wall clock on 2 busy cores (each training stage is capped by `max_minutes`).
# Every stage resumes from its last checkpoint, so re-running after a crash continues where it stopped.
# Extra arguments are config overrides, e.g.:  scripts/train_demo_model.sh teacher.max_minutes=4
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
CFG=${CFG:-training/configs/demo_vitt.yaml}
start=$(date +%s)
for stage in render-data train-teacher pseudo-label train-student finetune-metric export evaluate; do
  echo "=== $stage ($(( $(date +%s) - start )) s)"
  extra=()
  if [ "$stage" = export ]; then  # the one place that replaces the shipped model, on purpose
    extra=(export.checkpoint=models/demo_vitt_metric.safetensors export.onnx=models/demo_vitt_metric.onnx
           export.overwrite=true)
  fi
  "$PY" -m training.cli "$stage" --config "$CFG" "$@" "${extra[@]}"
done
echo "=== done in $(( $(date +%s) - start )) s"
