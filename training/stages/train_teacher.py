"""Stage 1: the teacher, trained on labeled RGB-D with the affine-invariant loss (Depth Anything V1, Sec. 3.1).

    python -m training.cli train-teacher --config training/configs/demo_vitt.yaml [teacher.steps=100]

Labeled GT depth (the synthetic shards, or any reader through `data.train`) -> disparity normalised per
map (synthetic sky, the only invalid pixels there, becomes disparity 0 when `data.invalid_is_sky`), random crop + horizontal flip, AdamW with encoder / decoder
groups, linear lr decay. Resumes from `<run_dir>/teacher/last.pt`; the final weights go to
`<run_dir>/teacher/model.safetensors` (our checkpoint format).
"""
from __future__ import annotations

from ..engine import seed_everything, setup_distributed
from ..losses import affine_invariant_loss, depth_to_disparity_target
from ..data.sources import labeled_sets
from .common import LabeledCrops, batches, new_model, normalize, stage_dir
from .loop import TrainLoop, finish_relative, start_training


def train_teacher(cfg) -> dict:
    """Train (or resume) the teacher; returns the summary row."""
    c = cfg.teacher
    d = setup_distributed(cfg.device, cfg.threads)
    seed_everything(cfg.seed + d.rank)
    out = stage_dir(cfg, "teacher")

    # model, optimizer, resume
    model, opt, step, state = start_training(new_model(cfg).to(d.device), c, d, out, "teacher")

    # data
    data = LabeledCrops(labeled_sets(cfg, c.kind)[0], c.crop)
    stream = batches(data, c.batch_size, cfg.seed, d.rank, d.world, start_step=step)
    sky = cfg.data.invalid_is_sky

    loop = TrainLoop("teacher", cfg, c, d, model, opt, out, step, state, images_per_step=c.batch_size)
    while not loop.finished:
        loop.set_lr()
        b = next(stream)
        img = b["image"].to(d.device)
        target, mask = depth_to_disparity_target(b["depth"].to(d.device), b["valid"].to(d.device), sky)
        pred = model(normalize(img))
        loss = affine_invariant_loss(pred, target, mask)
        loop.update(loss)
        if loop.every(c.image_every):
            loop.log.grid("teacher/rgb_target_pred", loop.step, [[img[0], target[0], pred[0]]])
        loop.end_step()

    provenance = f"teacher, {cfg.name}, {loop.step} steps"
    return finish_relative(loop, cfg, loop.summary(), provenance)
