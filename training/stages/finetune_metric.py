"""Stage 4: metric fine-tuning, V2 style (spec §3.1): Sigmoid × max_depth head, SILog λ = 0.5.

    python -m training.cli finetune-metric --config training/configs/demo_vitt.yaml

Only the encoder (`pretrained.*`) comes from the relative model (`metric.init_from`: the student by
default); the DPT head starts random. Loss mask = valid & min_depth <= d <= max_depth. AdamW (wd 0.01),
encoder lr / decoder lr × 10, poly decay (1 - it/total)^0.9 per iteration, horizontal flip.
`metric.kind` keeps only indoor (or street) scenes, as V2 trains one model per domain (20 m / 80 m).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from depth_anything_ros.model.checkpoint import ModelMeta, read_state_dict, save_checkpoint
from ..engine import seed_everything, setup_distributed, summary_table, unwrap, write_json
from ..losses import silog_loss
from .common import LabeledCrops, batches, data_dir, new_model, normalize, stage_dir
from .loop import TrainLoop, start_training


def init_encoder_from(model, path: str | Path) -> int:
    """Copy `pretrained.*` tensors of a relative checkpoint into `model` (head untouched); returns the count."""
    state, _ = read_state_dict(path)
    enc = {k: v for k, v in state.items() if k.startswith("pretrained.")}
    missing, unexpected = model.load_state_dict(enc, strict=False)
    missing_enc = [k for k in missing if k.startswith("pretrained.")]
    if missing_enc or unexpected:
        raise ValueError(f"{path}: encoder does not fit (missing {missing_enc[:3]}, unexpected {unexpected[:3]})")
    return len(enc)


def training_focal(cfg: dict, kind: str | None) -> float:
    """Median fx (pixels) of the labeled training frames used: the per-pixel focal the model learned."""
    from .common import filter_ids
    from depth_anything_ros.data.readers.synthetic import SyntheticShards

    shards = SyntheticShards(data_dir(cfg, "labeled"))
    ids = filter_ids(shards, kind)[:200]
    return float(np.median([shards.meta(i)["K"][0][0] for i in ids]))


def finetune_metric(cfg: dict) -> dict:
    """Fine-tune (or resume) the metric model; returns the summary row."""
    c = cfg["metric"]
    d = setup_distributed(cfg.get("device", "auto"), cfg.get("threads", 2))
    seed = int(cfg.get("seed", 0))
    seed_everything(seed + 2000 + d.rank)
    out = stage_dir(cfg, "metric")
    max_depth, min_depth = float(c["max_depth"]), float(c.get("min_depth", 1e-3))

    # model: encoder from the relative model, head re-initialised
    model = new_model(cfg, kind="metric", max_depth=max_depth, init_dinov2=False).to(d.device)
    src = c.get("init_from", "student")
    src_path = stage_dir(cfg, src) / "model.safetensors" if src in ("student", "teacher") else Path(src)
    init_encoder_from(model, src_path)
    model, opt, step, state = start_training(model, c, d, out, "metric")

    data = LabeledCrops(data_dir(cfg, "labeled"), c["crop"], kind=c.get("kind"))
    stream = batches(data, int(c["batch_size"]), seed + 2, d.rank, d.world, start_step=step)
    lam = float(c.get("silog_lambda", 0.5))

    loop = TrainLoop("metric", cfg, c, d, model, opt, out, step, state, images_per_step=int(c["batch_size"]),
                     schedule="poly", loss_name="silog")
    while not loop.finished:
        loop.set_lr()
        b = next(stream)
        img, depth = b["image"].to(d.device), b["depth"].to(d.device)
        mask = b["valid"].to(d.device) & (depth >= min_depth) & (depth <= max_depth)
        pred = model(normalize(img))
        loss = silog_loss(pred, depth, mask, lam)
        loop.update(loss)
        if loop.every("image_every", 100):
            loop.log.grid("metric/rgb_gt_pred", loop.step, [[img[0], torch.where(mask[0], depth[0], 0), pred[0].detach()]])

    row = loop.summary()
    step = loop.step
    if d.main:
        m = cfg["model"]
        meta = ModelMeta(
            m["encoder"], m.get("version", "v2"), "metric", max_depth=max_depth,
            input_size=tuple(c.get("input_size", c["crop"])), training_focal=training_focal(cfg, c.get("kind")),
            license=cfg.get("license", "Apache-2.0"),
            provenance=cfg.get("provenance", "") or f"{cfg.get('name', 'run')}: metric fine-tune, {step} steps")
        save_checkpoint(unwrap(model), out / "model.safetensors", meta)
        write_json(out / "summary.json", row)
        print(summary_table([row]))
    loop.close()
    return row
