"""Stage 4: metric fine-tuning, V2 style: Sigmoid × max_depth head, SILog (λ = 0.5).

    python -m training.cli finetune-metric --config training/configs/demo_vitt.yaml

Two ways to start (`metric.init`):
- `encoder` (the Depth Anything V2 recipe): only the encoder (`pretrained.*`) of `metric.init_from` (the
  student by default, or any checkpoint) is kept; the DPT head starts random.
- `continue`: the whole metric model of `metric.init_from`, head included, keeps training (fine-tuning a
  deployed metric model on new data); its max_depth is kept.
`metric.freeze_encoder` trains the head only (tiny data sets). The init model must be of the config's
preset (`model.encoder`, `model.version`), else a one-line error.

Data: the labeled synthetic shards or any reader through `data.train` (see training/data/sources.py). Frames
are resized to cover the deployment network size (`metric.input_size`, else the init model's recorded
size, else the crop), so the model learns at the pixels-per-radian it runs at; that size is recorded in the
model (ModelMeta.input_size) and every consumer runs the model at it.

Validation (when `data.val` is given or `data.split_fraction` > 0 with `data.train` sources): the starting
model is evaluated first; every `metric.val_every` steps and at the end the model is evaluated again, and
with `metric.keep_best` the best one (the start included) is what the stage ships, so a fine-tune never
ships a model worse than the one it started from on validation.

Loss mask = valid & min_depth <= d <= max_depth. AdamW (wd 0.01), encoder lr / decoder lr × 10, poly decay
(1 - it/total)^0.9 per iteration, horizontal flip.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from depth_anything_ros.model.checkpoint import ModelMeta, load_checkpoint, read_state_dict, save_checkpoint
from ..engine import code_version, seed_everything, setup_distributed, summary_table, unwrap, write_json
from ..losses import silog_loss
from .common import LabeledCrops, batches, evaluate_model, new_model, normalize, stage_dir
from .loop import TrainLoop, start_training
from .report import _m


class InitError(ValueError):
    """The init model cannot start this fine-tune (other preset, wrong kind); one line."""


def init_encoder_from(model, path: str | Path) -> int:
    """Copy `pretrained.*` tensors of a checkpoint into `model` (head untouched); returns the count."""
    state, _ = read_state_dict(path)
    enc = {k: v for k, v in state.items() if k.startswith("pretrained.")}
    missing, unexpected = model.load_state_dict(enc, strict=False)
    missing_enc = [k for k in missing if k.startswith("pretrained.")]
    if missing_enc or unexpected or not enc:
        raise InitError(f"{path}: encoder does not fit (missing {missing_enc[:3]}, unexpected {unexpected[:3]})")
    return len(enc)


def init_path(cfg) -> Path:
    src = cfg.metric.init_from
    return stage_dir(cfg, src) / "model.safetensors" if src in ("student", "teacher") else Path(src)


def build_start_model(cfg):
    """(metric model to train, init model's metadata, max_depth) following `metric.init`."""
    c = cfg.metric
    path = init_path(cfg)
    if not path.is_file():
        raise InitError(f"{path}: init model not found")
    try:
        src, meta = load_checkpoint(path)
    except ValueError as exc:
        raise InitError(f"{path}: {exc}") from None
    if (meta.encoder, meta.version) != (cfg.model.encoder, cfg.model.version):
        raise InitError(f"{path}: init model is {meta.encoder}/{meta.version}, the config trains "
                        f"{cfg.model.encoder}/{cfg.model.version} (set model.encoder / model.version to match)")
    if c.init == "continue":
        if meta.kind != "metric":
            raise InitError(f"{path}: metric.init=continue needs a metric model, this one is {meta.kind} "
                            "(use metric.init=encoder)")
        return src, meta, float(meta.max_depth)
    model = new_model(cfg, kind="metric", max_depth=c.max_depth, init_dinov2=False)
    init_encoder_from(model, path)
    return model, meta, c.max_depth


def network_size(cfg, init_meta: ModelMeta | None) -> tuple[int, int]:
    """The deployment network size the model trains at: metric.input_size > init model's > crop."""
    c = cfg.metric
    size = c.input_size or (init_meta.input_size if init_meta and init_meta.input_size else None) or c.crop
    size = (int(size[0]), int(size[1]))
    if c.crop[0] > size[0] or c.crop[1] > size[1]:
        raise ValueError(f"metric.crop {list(c.crop)} is larger than the network size {list(size)}")
    return size


def training_focal(dataset, size, samples: int = 8) -> float:
    """Median fx (pixels) of the training frames once resized to cover `size`: the focal the model learned."""
    n = len(dataset)
    fx = []
    for i in np.linspace(0, n - 1, min(samples, n)).round().astype(int):
        s = dataset[int(i)]
        scale = max(size[0] / s.height, size[1] / s.width)
        fx.append(s.K[0, 0] * scale)
    return float(np.median(fx))


def validate_model(model, val, size, max_depth, limit=None) -> dict:
    """Direct metric scores of `model` on the validation set at the network size."""
    r = evaluate_model(unwrap(model), val, "metric", size, max_depth=min(max_depth, val.max_depth), limit=limit,
                       name="validation")
    return {"abs_rel": _m(r, "abs_rel"), "d1": _m(r, "d1"), "rmse": _m(r, "rmse"), "frames": r["count"]}


def finetune_metric(cfg, provenance: dict | None = None) -> dict:
    """Fine-tune (or resume) the metric model; returns the summary row (with "validation" when validated)."""
    from ..data.sources import labeled_sets

    c = cfg.metric
    d = setup_distributed(cfg.device, cfg.threads)
    seed = cfg.seed
    seed_everything(seed + 2000 + d.rank)
    out = stage_dir(cfg, "metric")
    min_depth = c.min_depth

    model, init_meta, max_depth = build_start_model(cfg)
    model = model.to(d.device)
    if c.freeze_encoder:
        for p in model.pretrained.parameters():
            p.requires_grad_(False)
    size = network_size(cfg, init_meta)
    need_val = bool(cfg.data.val) or (bool(cfg.data.train) and cfg.data.split_fraction > 0)
    train_set, val_set, data_info = labeled_sets(cfg, c.kind, need_val=need_val)

    # the starting model's validation score, before any step (kept in the checkpoint for a resume)
    model, opt, step, state = start_training(model, c, d, out, "metric")
    extra = (state or {}).get("extra", {})
    curve = list(extra.get("curve", []))
    best = extra.get("best")
    if val_set is not None and d.main and best is None:
        start = validate_model(model, val_set, size, max_depth)
        best = {"step": 0, **start}
        curve.append({"step": 0, **start})
        save_checkpoint(unwrap(model), out / "best.safetensors", _meta(cfg, init_meta, max_depth, size, 0,
                                                                       train_set, provenance, data_info))
        print(f"[metric] start model on validation: AbsRel {start['abs_rel']:.4f}, d1 {start['d1']:.4f}")
    d.barrier()

    data = LabeledCrops(train_set, c.crop, fit=size)
    stream = batches(data, c.batch_size, seed + 2, d.rank, d.world, start_step=step)
    lam = c.silog_lambda

    def extra_state():
        return {"curve": curve, "best": best}

    loop = TrainLoop("metric", cfg, c, d, model, opt, out, step, state, images_per_step=c.batch_size,
                     loss_name="silog", extra_state=extra_state)
    while not loop.finished:
        loop.set_lr()
        b = next(stream)
        img, depth = b["image"].to(d.device), b["depth"].to(d.device)
        mask = b["valid"].to(d.device) & (depth >= min_depth) & (depth <= max_depth)
        pred = model(normalize(img))
        loss = silog_loss(pred, depth, mask, lam)
        loop.update(loss)
        if loop.every(c.image_every):
            loop.log.grid("metric/rgb_gt_pred", loop.step, [[img[0], torch.where(mask[0], depth[0], 0), pred[0].detach()]])
        due = loop.finished or (c.val_every and loop.step % c.val_every == 0)
        if val_set is not None and due and d.main:
            v = validate_model(model, val_set, size, max_depth)
            curve.append({"step": loop.step, "loss": loop.ema, **v})
            loop.log.scalars(loop.step, **{f"metric/val_{k}": v[k] for k in ("abs_rel", "d1", "rmse")})
            if v["abs_rel"] < best["abs_rel"]:
                best = {"step": loop.step, **v}
                save_checkpoint(unwrap(model), out / "best.safetensors",
                                _meta(cfg, init_meta, max_depth, size, loop.step, train_set, provenance, data_info))
        loop.end_step()

    row = loop.summary()
    if d.main:
        meta = _meta(cfg, init_meta, max_depth, size, loop.step, train_set, provenance, data_info)
        final = out / "final.safetensors"
        save_checkpoint(unwrap(model), final, meta)
        shipped = final
        if val_set is not None and c.keep_best and best["step"] != loop.step:
            shipped = out / "best.safetensors"
        atomic_copy(shipped, out / "model.safetensors")
        row.update(data_info)
        row.update(network_size=list(size), init=c.init, init_from=str(init_path(cfg)), max_depth=max_depth)
        if val_set is not None:
            row.update(validation={"start": curve[0], "best": best, "curve": curve,
                                   "shipped_step": best["step"] if c.keep_best else loop.step})
        write_json(out / "summary.json", row)
        print(summary_table([{k: v for k, v in row.items() if not isinstance(v, (dict, list))}]))
    loop.close()
    return row


def atomic_copy(src: Path, dst: Path) -> None:
    """Copy `src` to `dst` through a temp file + os.replace (dst is always complete)."""
    import os
    import shutil

    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + f".tmp{os.getpid()}")
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _meta(cfg, init_meta, max_depth, size, steps, train_set, provenance, data_info) -> ModelMeta:
    """The trained model's metadata: the run's own provenance, never the init model's text."""
    facts = {"run": cfg.name, "steps": steps, "init": cfg.metric.init, "init_model": str(init_path(cfg)),
             "init_provenance": (init_meta.provenance if init_meta else "")[:200],
             "data": data_info.get("sources"), "train_frames": data_info.get("train_frames"),
             "val_frames": data_info.get("val_frames"), "freeze_encoder": cfg.metric.freeze_encoder,
             "code_version": code_version()}
    facts.update(provenance or {})
    text = (f"{cfg.name}: metric fine-tune ({cfg.metric.init} from {Path(str(init_path(cfg))).name}), {steps} steps "
            f"on {', '.join(map(str, data_info.get('sources') or []))}")
    if cfg.provenance:
        text = f"{text}. {cfg.provenance}"
    return ModelMeta(cfg.model.encoder, cfg.model.version, "metric", max_depth=max_depth, input_size=tuple(size),
                     training_focal=training_focal(train_set, size), license=cfg.license, provenance=text,
                     extra={"provenance": facts})
