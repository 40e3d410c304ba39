"""Stage 1: the teacher, trained on labeled RGB-D with the affine-invariant loss (spec §5.1, §5.2).

    python -m training.cli train-teacher --config training/configs/demo_vitt.yaml [teacher.steps=100]

Labeled GT depth -> disparity normalised per map (synthetic sky, the only invalid pixels there, becomes
disparity 0 when `data.invalid_is_sky`), random crop + horizontal flip, AdamW with encoder / decoder
groups, linear lr decay. Resumes from `<run_dir>/teacher/last.pt`; the final weights go to
`<run_dir>/teacher/model.safetensors` (our checkpoint format).
"""
from __future__ import annotations

from ..engine import seed_everything, setup_distributed
from ..losses import affine_invariant_loss, depth_to_disparity_target
from .common import LabeledCrops, batches, data_dir, new_model, normalize, stage_dir
from .loop import TrainLoop, finish_relative, start_training


def train_teacher(cfg: dict) -> dict:
    """Train (or resume) the teacher; returns the summary row."""
    c = cfg["teacher"]
    d = setup_distributed(cfg.get("device", "auto"), cfg.get("threads", 2))
    seed_everything(int(cfg.get("seed", 0)) + d.rank)
    out = stage_dir(cfg, "teacher")

    # model, optimizer, resume
    model, opt, step, state = start_training(new_model(cfg).to(d.device), c, d, out, "teacher")

    # data
    data = LabeledCrops(data_dir(cfg, "labeled"), c["crop"], kind=c.get("kind"))
    stream = batches(data, int(c["batch_size"]), int(cfg.get("seed", 0)), d.rank, d.world, start_step=step)
    sky = bool(cfg["data"].get("invalid_is_sky", False))

    loop = TrainLoop("teacher", cfg, c, d, model, opt, out, step, state, images_per_step=int(c["batch_size"]))
    while not loop.finished:
        loop.set_lr()
        b = next(stream)
        img = b["image"].to(d.device)
        target, mask = depth_to_disparity_target(b["depth"].to(d.device), b["valid"].to(d.device), sky)
        pred = model(normalize(img))
        loss = affine_invariant_loss(pred, target, mask)
        loop.update(loss)
        if loop.every("image_every", 100):
            loop.log.grid("teacher/rgb_target_pred", loop.step, [[img[0], target[0], pred[0]]])

    provenance = f"teacher, {cfg.get('name', 'run')}, {loop.step} steps"
    return finish_relative(loop, cfg, loop.summary(), provenance)
