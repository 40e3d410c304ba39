"""Stage 2: the teacher labels the unlabeled images (clean input, full frame), sharded by rank.

    python -m training.cli pseudo-label --config training/configs/demo_vitt.yaml

Rank r of W labels frames r, r+W, r+2W, ... and writes `<run_dir>/pseudo/<frame id>.npy` (float16 raw
teacher disparity at the frame's resolution) atomically; frames already labeled are skipped, so a killed
run resumes. Rank 0 then measures pseudo-label quality against the unlabeled domain's sealed depth
(zero-shot protocol) — the only place, besides evaluation, where that depth is read.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from tqdm import tqdm

from depth_anything_ros.model.checkpoint import load_checkpoint
from depth_anything_ros.data.readers.synthetic import SyntheticShards
from ..engine import Timer, cleanup_distributed, setup_distributed, summary_table, write_json
from .common import data_dir, evaluate_model, predict_batch, run_dir, stage_dir
from .report import SealedUnlabeled, _m


def pseudo_dir(cfg) -> Path:
    return run_dir(cfg) / "pseudo"


def pseudo_label(cfg) -> dict:
    """Write the pseudo-labels of every unlabeled frame; returns the summary row."""
    d = setup_distributed(cfg.device, cfg.threads)
    teacher_path = stage_dir(cfg, "teacher") / "model.safetensors"
    teacher, _ = load_checkpoint(teacher_path)
    teacher.to(d.device).eval()
    shards = SyntheticShards(data_dir(cfg, "unlabeled"))
    out = pseudo_dir(cfg)
    out.mkdir(parents=True, exist_ok=True)
    size = cfg.pseudo_label.size  # None: each frame at its own size (multiple of 14)

    timer, written = Timer(), 0
    bs = cfg.pseudo_label.batch_size
    todo = [i for i in range(d.rank, len(shards), d.world) if not (out / f"{shards.ids[i]}.npy").exists()]
    for k in tqdm(range(0, len(todo), bs), desc=f"pseudo-label r{d.rank}", unit="batch",
                  disable=not cfg.progress):
        chunk = todo[k:k + bs]
        images = [shards[i].image for i in chunk]
        for i, pl in zip(chunk, predict_batch(teacher, images, tuple(size) if size else None)):
            tmp = out / f"{shards.ids[i]}.tmp{os.getpid()}.npy"
            np.save(tmp, pl.astype(np.float16))
            os.replace(tmp, out / f"{shards.ids[i]}.npy")
            written += 1
    d.barrier()

    row = {"stage": "pseudo-label", "frames": len(shards), "written_by_rank0": written,
           "seconds": round(timer.elapsed(), 1)}
    if d.main:
        # pseudo-label quality: the teacher's predictions against the sealed depth
        limit = cfg.evaluation.limit
        r = evaluate_model(teacher, SealedUnlabeled(data_dir(cfg, "unlabeled"), limit), "relative",
                           name="pseudo-labels vs sealed depth")
        row.update(pl_abs_rel=_m(r, "abs_rel"), pl_d1=_m(r, "d1"))
        write_json(out / "summary.json", row)
        print(summary_table([row]))
    cleanup_distributed()
    return row
