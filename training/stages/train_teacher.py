"""Stage 1: the teacher, trained on labeled RGB-D with the affine-invariant loss (spec §5.1, §5.2).

    python -m training.cli train-teacher --config training/configs/demo_vitt.yaml [teacher.steps=100]

Labeled GT depth -> disparity normalised per map (synthetic sky, the only invalid pixels there, becomes
disparity 0 when `data.invalid_is_sky`), random crop + horizontal flip, AdamW with encoder / decoder
groups, linear lr decay. Resumes from `<run_dir>/teacher/last.pt`; the final weights go to
`<run_dir>/teacher/model.safetensors` (our checkpoint format).
"""
from __future__ import annotations

from tqdm import tqdm

from depth_anything_ros.model.checkpoint import ModelMeta, save_checkpoint
from training.engine import (Budget, Logger, Timer, cleanup_distributed, finite_or_raise, lr_factor, load_train_state,
                             make_optimizer, save_train_state, seed_everything, set_lr, setup_distributed,
                             summary_table, unwrap, write_json)
from training.losses import affine_invariant_loss, depth_to_disparity_target
from training.stages.common import (LabeledCrops, batches, data_dir, ddp_wrap, new_model, normalize, stage_dir)
from training.stages.report import eval_relative_summary


def train_teacher(cfg: dict) -> dict:
    """Train (or resume) the teacher; returns the summary row."""
    c = cfg["teacher"]
    d = setup_distributed(cfg.get("device", "auto"), cfg.get("threads", 2))
    seed_everything(int(cfg.get("seed", 0)) + d.rank)
    out = stage_dir(cfg, "teacher")
    total = int(c["steps"])

    # model, optimizer, resume
    model = new_model(cfg).to(d.device)
    opt = make_optimizer(model, c)
    state = load_train_state(out / "last.pt", model, opt) if c.get("resume", True) else None
    step = int(state["step"]) if state else 0
    if state and d.main:
        print(f"[teacher] resumed from {out / 'last.pt'} at step {step}")
    model = ddp_wrap(model, d)
    model.train()

    # data
    data = LabeledCrops(data_dir(cfg, "labeled"), c["crop"], kind=c.get("kind"))
    stream = batches(data, int(c["batch_size"]), int(cfg.get("seed", 0)), d.rank, d.world, start_step=step)
    sky = bool(cfg["data"].get("invalid_is_sky", False))

    log = Logger(out / "tb", enabled=d.main and cfg.get("tensorboard", True))
    timer, ema, start = Timer(), None, step
    bar = tqdm(total=total, initial=step, desc="teacher", disable=not d.main or not cfg.get("progress", True))
    budget = Budget(total, c.get("max_minutes"), d, (state or {}).get("extra", {}).get("spent", 0.0))
    finished = budget.done(step)
    while not finished:
        set_lr(opt, lr_factor(c.get("schedule", "linear"), budget.fraction(step), step, int(c.get("warmup", 0))))
        b = next(stream)
        img = b["image"].to(d.device)
        target, mask = depth_to_disparity_target(b["depth"].to(d.device), b["valid"].to(d.device), sky)
        pred = model(normalize(img))
        loss = affine_invariant_loss(pred, target, mask)
        finite_or_raise(loss, "teacher loss")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if c.get("grad_clip"):
            import torch

            torch.nn.utils.clip_grad_norm_(model.parameters(), float(c["grad_clip"]))
        opt.step()
        step += 1
        finished = budget.done(step)

        ema = loss.item() if ema is None else 0.95 * ema + 0.05 * loss.item()
        bar.update(1)
        bar.set_postfix(loss=f"{ema:.4f}")
        if d.main and step % int(c.get("log_every", 10)) == 0:
            log.scalars(step, **{"teacher/loss": loss.item(), "teacher/lr_encoder": opt.param_groups[0]["lr"]})
        if d.main and step % int(c.get("image_every", 100)) == 0:
            log.grid("teacher/rgb_target_pred", step, [[img[0], target[0], pred[0]]])
        if step % int(c.get("ckpt_every", 50)) == 0 or finished:
            if d.main:
                save_train_state(out / "last.pt", model, opt, step, {"spent": budget.spent()})
            d.barrier()
    bar.close()

    row = {"stage": "teacher", "steps": step, "seconds": round(timer.elapsed(), 1),
           "img_per_s": round((step - start) * int(c["batch_size"]) * d.world / max(timer.elapsed(), 1e-9), 2),
           "loss_ema": ema if ema is not None else float("nan")}
    if d.main:
        meta = ModelMeta(cfg["model"]["encoder"], cfg["model"].get("version", "v2"), "relative",
                         input_size=tuple(c["crop"]), provenance=f"teacher, {cfg.get('name', 'run')}, {step} steps")
        save_checkpoint(unwrap(model), out / "model.safetensors", meta)
        row.update(eval_relative_summary(cfg, unwrap(model)))
        write_json(out / "summary.json", row)
        print(summary_table([row]))
    log.close()
    d.barrier()
    cleanup_distributed()
    return row
