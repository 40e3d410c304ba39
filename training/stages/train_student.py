"""Stage 3: the student — labeled + pseudo-labeled (1:2 per batch), strong perturbations, CutMix and
feature alignment (spec §5.2, §5.3).

    python -m training.cli train-student --config training/configs/demo_vitt.yaml [student.feature_align=false]

One step:
1. n_l labeled crops (flip) and n_u = 2 n_l unlabeled crops with their (pre-computed, clean-image) teacher
   pseudo-labels, same crop/flip for image and label;
2. student view of the unlabeled images: color jitter, grayscale, blur, then CutMix (p = 0.5 per image,
   partner = the next image of the batch, its pseudo-label rolled the same way); the teacher never saw this;
3. one forward of [labeled; perturbed unlabeled], returning depth and final patch tokens;
4. L_l affine-invariant on labeled, L_u area-weighted CutMix loss, L_feat = 1 - cos to the frozen encoder's
   tokens of the same perturbed images, tokens with cos > 0.85 left out;
5. L = mean of the active terms ((L_l + L_u + L_feat) / 3 in the full recipe); AdamW, linear decay.

The student is re-initialised (DINOv2 when given, else random), never copied from the teacher. Switches
`use_unlabeled`, `perturb`, `feature_align` give the rows of the paper's ablation.
"""
from __future__ import annotations

import torch
from tqdm import tqdm

from depth_anything_ros.model.checkpoint import ModelMeta, save_checkpoint
from training.augment import apply_cutmix, cutmix_boxes, strong_color
from training.engine import (Budget, Logger, Timer, cleanup_distributed, finite_or_raise, load_train_state, lr_factor,
                             make_optimizer, save_train_state, seed_everything, set_lr, setup_distributed,
                             summary_table, unwrap, write_json)
from training.losses import (affine_invariant_loss, cutmix_affine_invariant_loss, depth_to_disparity_target,
                             feature_alignment_loss)
from training.stages.common import (LabeledCrops, UnlabeledCrops, batches, data_dir, ddp_wrap, final_tokens,
                                    frozen_encoder, new_model, normalize, stage_dir)
from training.stages.pseudo_label import pseudo_dir
from training.stages.report import eval_relative_summary


def train_student(cfg: dict, stage: str = "student") -> dict:
    """Train (or resume) the student into `<run_dir>/<stage>/`; returns the summary row."""
    c = cfg["student"]
    d = setup_distributed(cfg.get("device", "auto"), cfg.get("threads", 2))
    seed = int(cfg.get("seed", 0))
    seed_everything(seed + 1000 + d.rank)
    out = stage_dir(cfg, stage)
    total = int(c["steps"])
    use_u = bool(c.get("use_unlabeled", True))
    perturb = use_u and bool(c.get("perturb", True))
    feat = use_u and bool(c.get("feature_align", True))

    # model (re-initialised), optimizer, resume, frozen encoder
    model = new_model(cfg).to(d.device)
    opt = make_optimizer(model, c)
    state = load_train_state(out / "last.pt", model, opt) if c.get("resume", True) else None
    step = int(state["step"]) if state else 0
    if state and d.main:
        print(f"[{stage}] resumed from {out / 'last.pt'} at step {step}")
    model = ddp_wrap(model, d)
    model.train()
    frozen, frozen_source = (frozen_encoder(cfg, stage_dir(cfg, "teacher") / "model.safetensors") if feat
                             else (None, "none"))
    if frozen is not None:
        frozen.to(d.device)

    # data: n_l labeled + n_u unlabeled per step
    n_l, n_u = int(c["labeled_batch"]), int(c.get("unlabeled_batch", 2 * int(c["labeled_batch"])))
    lab = LabeledCrops(data_dir(cfg, "labeled"), c["crop"], kind=c.get("kind"))
    lab_stream = batches(lab, n_l, seed, d.rank, d.world, start_step=step)
    if use_u:
        unl = UnlabeledCrops(data_dir(cfg, "unlabeled"), pseudo_dir(cfg), c["crop"])
        unl_stream = batches(unl, n_u, seed + 1, d.rank, d.world, start_step=step)
    aug_gen = torch.Generator().manual_seed(seed * 7919 + d.rank * 104729 + step)
    sky = bool(cfg["data"].get("invalid_is_sky", False))
    margin = float(c.get("feature_margin", 0.85))

    log = Logger(out / "tb", enabled=d.main and cfg.get("tensorboard", True))
    timer, ema, start = Timer(), None, step
    bar = tqdm(total=total, initial=step, desc=stage, disable=not d.main or not cfg.get("progress", True))
    budget = Budget(total, c.get("max_minutes"), d, (state or {}).get("extra", {}).get("spent", 0.0))
    finished = budget.done(step)
    while not finished:
        set_lr(opt, lr_factor(c.get("schedule", "linear"), budget.fraction(step), step, int(c.get("warmup", 0))))
        b = next(lab_stream)
        img_l = b["image"].to(d.device)
        tgt_l, mask_l = depth_to_disparity_target(b["depth"].to(d.device), b["valid"].to(d.device), sky)
        images = [img_l]
        if use_u:
            u = next(unl_stream)
            img_u, pl = u["image"].to(d.device), u["pseudo"].to(d.device).float()
            box = torch.zeros(pl.shape, dtype=torch.bool, device=d.device)
            img_s = img_u
            if perturb:  # the student's view only; pseudo-labels came from the clean images
                img_s = strong_color(img_u, aug_gen, c.get("augment"))
                box = cutmix_boxes(*pl.shape, aug_gen, p=float(c.get("cutmix_p", 0.5))).to(d.device)
                img_s = apply_cutmix(img_s, box, img_s.roll(1, dims=0))
            images.append(img_s)

        x = normalize(torch.cat(images))
        pred, tokens = model(x, return_features=True)
        losses = {"l_labeled": affine_invariant_loss(pred[:n_l], tgt_l, mask_l)}
        if use_u:
            losses["l_unlabeled"] = cutmix_affine_invariant_loss(pred[n_l:], pl, pl.roll(1, dims=0), box)
        if feat:
            with torch.no_grad():
                ref = final_tokens(frozen, x[n_l:])
            losses["l_feat"] = feature_alignment_loss(tokens[n_l:], ref, margin)
        loss = sum(losses.values()) / len(losses)
        finite_or_raise(loss, f"{stage} loss")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if c.get("grad_clip"):
            torch.nn.utils.clip_grad_norm_(model.parameters(), float(c["grad_clip"]))
        opt.step()
        step += 1
        finished = budget.done(step)

        ema = loss.item() if ema is None else 0.95 * ema + 0.05 * loss.item()
        bar.update(1)
        bar.set_postfix(loss=f"{ema:.4f}")
        if d.main and step % int(c.get("log_every", 10)) == 0:
            log.scalars(step, **{f"{stage}/loss": loss.item(), f"{stage}/lr_encoder": opt.param_groups[0]["lr"],
                                 **{f"{stage}/{k}": v.item() for k, v in losses.items()}})
        if d.main and use_u and step % int(c.get("image_every", 100)) == 0:
            log.grid(f"{stage}/student_view_pseudo_pred", step,
                     [[img_u[0], img_s[0], pl[0], pred[n_l].detach()], [img_l[0], img_l[0], tgt_l[0], pred[0].detach()]])
        if step % int(c.get("ckpt_every", 50)) == 0 or finished:
            if d.main:
                save_train_state(out / "last.pt", model, opt, step, {"spent": budget.spent()})
            d.barrier()
    bar.close()

    row = {"stage": stage, "steps": step, "seconds": round(timer.elapsed(), 1),
           "img_per_s": round((step - start) * (n_l + (n_u if use_u else 0)) * d.world / max(timer.elapsed(), 1e-9), 2),
           "loss_ema": ema if ema is not None else float("nan"), "unlabeled": use_u, "perturb": perturb,
           "feature_align": feat, "frozen_encoder": frozen_source}
    if d.main:
        meta = ModelMeta(cfg["model"]["encoder"], cfg["model"].get("version", "v2"), "relative",
                         input_size=tuple(c["crop"]),
                         provenance=f"{stage}, {cfg.get('name', 'run')}, {step} steps, frozen encoder: {frozen_source}")
        save_checkpoint(unwrap(model), out / "model.safetensors", meta)
        row.update(eval_relative_summary(cfg, unwrap(model)))
        write_json(out / "summary.json", row)
        print(summary_table([row]))
    log.close()
    d.barrier()
    cleanup_distributed()
    return row
