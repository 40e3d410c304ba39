"""Stage 3: the student — labeled + pseudo-labeled (1:2 per batch), strong perturbations, CutMix and
feature alignment (Depth Anything V1, Sec. 3.2-3.3).

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

from ..augment import apply_cutmix, cutmix_boxes, strong_color
from ..engine import seed_everything, setup_distributed
from ..losses import (affine_invariant_loss, cutmix_affine_invariant_loss, depth_to_disparity_target,
                             feature_alignment_loss)
from ..data.sources import labeled_sets
from .common import (LabeledCrops, UnlabeledCrops, batches, data_dir, final_tokens, frozen_encoder, new_model,
                     normalize, stage_dir)
from .loop import TrainLoop, finish_relative, start_training
from .pseudo_label import pseudo_dir


def train_student(cfg, stage: str = "student") -> dict:
    """Train (or resume) the student into `<run_dir>/<stage>/`; returns the summary row."""
    c = cfg.student
    d = setup_distributed(cfg.device, cfg.threads)
    seed = cfg.seed
    seed_everything(seed + 1000 + d.rank)
    out = stage_dir(cfg, stage)
    use_u = c.use_unlabeled
    perturb = use_u and c.perturb
    feat = use_u and c.feature_align

    # model (re-initialised), optimizer, resume, frozen encoder
    model, opt, step, state = start_training(new_model(cfg).to(d.device), c, d, out, stage)
    frozen, frozen_source = (frozen_encoder(cfg, stage_dir(cfg, "teacher") / "model.safetensors") if feat
                             else (None, "none"))
    if frozen is not None:
        frozen.to(d.device)

    # data: n_l labeled + n_u unlabeled per step
    n_l, n_u = c.labeled_batch, c.unlabeled_batch or 2 * c.labeled_batch
    lab = LabeledCrops(labeled_sets(cfg, c.kind)[0], c.crop)
    lab_stream = batches(lab, n_l, seed, d.rank, d.world, start_step=step)
    if use_u:
        unl = UnlabeledCrops(data_dir(cfg, "unlabeled"), pseudo_dir(cfg), c.crop)
        unl_stream = batches(unl, n_u, seed + 1, d.rank, d.world, start_step=step)
    # its state is checkpointed per rank (TrainLoop generators), so a resumed run draws what it would have
    aug_gen = torch.Generator().manual_seed(seed * 7919 + d.rank * 104729)
    sky = cfg.data.invalid_is_sky

    loop = TrainLoop(stage, cfg, c, d, model, opt, out, step, state, images_per_step=n_l + (n_u if use_u else 0),
                     generators={"augment": aug_gen})
    while not loop.finished:
        loop.set_lr()
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
                img_s = strong_color(img_u, aug_gen, c.augment)
                box = cutmix_boxes(*pl.shape, aug_gen, p=c.cutmix_p).to(d.device)
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
            losses["l_feat"] = feature_alignment_loss(tokens[n_l:], ref, c.feature_margin)
        loss = sum(losses.values()) / len(losses)
        loop.update(loss, {f"{stage}/{k}": v.item() for k, v in losses.items()})
        if use_u and loop.every(c.image_every):
            loop.log.grid(f"{stage}/student_view_pseudo_pred", loop.step,
                          [[img_u[0], img_s[0], pl[0], pred[n_l].detach()], [img_l[0], img_l[0], tgt_l[0], pred[0].detach()]])
        loop.end_step()

    row = loop.summary()
    row.update({"unlabeled": use_u, "perturb": perturb, "feature_align": feat, "frozen_encoder": frozen_source})
    provenance = f"{stage}, {cfg.name}, {loop.step} steps, frozen encoder: {frozen_source}"
    return finish_relative(loop, cfg, row, provenance)
