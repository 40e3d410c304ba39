"""The bookkeeping every training stage shares, so each stage file keeps only its own maths.

`start_training` builds the optimizer and resumes from `<stage dir>/last.pt`; `TrainLoop` owns the lr
schedule, the optimizer step, the progress bar, TensorBoard scalars, the step/time budget and the
atomic rank-0 checkpoints. A stage reads top to bottom:

    model, opt, step, state = start_training(model, c, d, out, "teacher")
    loop = TrainLoop("teacher", cfg, c, d, model, opt, out, step, state, images_per_step=8)
    while not loop.finished:
        loop.set_lr()
        loss = ...
        loop.update(loss, {"teacher/extra": ...})
        loop.end_step()
    row = loop.summary()
"""
from __future__ import annotations

import torch
from tqdm import tqdm

from depth_anything_ros.model.checkpoint import ModelMeta, save_checkpoint
from ..engine import (Budget, Logger, Timer, cleanup_distributed, finite_or_raise, gather_rng_states,
                      load_train_state, lr_factor, make_optimizer, save_train_state, set_lr, set_rng_state,
                      summary_table, unwrap, write_json)
from .common import ddp_wrap


def start_training(model, c, d, out, stage: str):
    """Optimizer for `model`, resumed from `out/last.pt` when present; returns (ddp model, opt, step, state)."""
    opt = make_optimizer(model, c)
    state = load_train_state(out / "last.pt", model, opt) if c.resume else None
    step = int(state["step"]) if state else 0
    if state and d.main:
        print(f"[{stage}] resumed from {out / 'last.pt'} at step {step}")
    model = ddp_wrap(model, d)
    model.train()
    return model, opt, step, state


class TrainLoop:
    """Schedule, step, log and checkpoint one stage's loop (see module docstring).

    `generators` are the stage's own torch.Generator objects (e.g. augmentation); their states join the
    per-rank RNG states in every checkpoint. The RNG states of a resumed run are restored here, after the
    stage has built everything that draws random numbers at start-up, so the loop continues exactly.
    `extra_state()` returns stage data to keep in the checkpoint (e.g. the best validation score).
    """

    def __init__(self, stage: str, cfg, c, d, model, opt, out, step: int, state: dict | None,
                 images_per_step: int, loss_name: str = "loss", prefix: str | None = None,
                 generators: dict | None = None, extra_state=None):
        self.stage, self.c, self.d, self.model, self.opt, self.out = stage, c, d, model, opt, out
        self.loss_name, self.prefix = loss_name, prefix or stage
        self.images_per_step = images_per_step
        self.generators = generators or {}
        self.extra_state = extra_state or dict
        self.step = self.start = step
        self.ema = None
        self.timer = Timer()
        self.log = Logger(out / "tb", enabled=d.main and cfg.tensorboard)
        self.budget = Budget(c.steps, c.max_minutes, d, (state or {}).get("extra", {}).get("spent", 0.0))
        # a time budget shows progress (and the ETA) in seconds, else in steps
        self.by_time = bool(c.max_minutes)
        total, initial = ((int(self.budget.limit), int(self.budget.spent0)) if self.by_time else (c.steps, step))
        self.bar = tqdm(total=total, initial=initial, desc=stage, unit="s" if self.by_time else "it",
                        disable=not d.main or not cfg.progress)
        if state and "rng" in state:
            rng = state["rng"]
            if len(rng) != d.world:
                raise ValueError(f"{out / 'last.pt'} holds {len(rng)} rank(s) of RNG state, this run has "
                                 f"{d.world}: resume with the same number of processes")
            set_rng_state(rng[d.rank], self.generators)
        self.finished = self.budget.done(step)

    def set_lr(self) -> None:
        """This step's learning rates from the schedule (budget fraction: steps or minutes, whichever is less)."""
        factor = lr_factor(self.c.schedule, self.budget.fraction(self.step), self.step, self.c.warmup)
        set_lr(self.opt, factor)

    def every(self, n: int) -> bool:
        """True on rank 0 every `n` steps (after `update`)."""
        return self.d.main and self.step % n == 0

    def update(self, loss: torch.Tensor, scalars: dict | None = None) -> None:
        """Backward + optimizer step, then progress, scalars and (every `ckpt_every` steps) a checkpoint."""
        finite_or_raise(loss, f"{self.stage} loss")
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.c.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.c.grad_clip)
        self.opt.step()
        self.step += 1
        self.finished = self.budget.done(self.step)

        value = loss.item()
        self.ema = value if self.ema is None else 0.95 * self.ema + 0.05 * value
        if self.by_time:
            self.bar.update(max(0, min(int(self.budget.spent()), self.bar.total) - self.bar.n))
        else:
            self.bar.update(1)
        self.bar.set_postfix({"step": self.step, self.loss_name: f"{self.ema:.4f}"})
        if self.every(self.c.log_every):
            self.log.scalars(self.step, **{f"{self.prefix}/{self.loss_name}": value,
                                           f"{self.prefix}/lr_encoder": self.opt.param_groups[0]["lr"],
                                           **(scalars or {})})

    def checkpoint_due(self) -> bool:
        return self.step % self.c.ckpt_every == 0 or self.finished

    def checkpoint(self) -> None:
        """Write `last.pt` (all ranks take part: the RNG states of every rank are gathered to rank 0)."""
        rng = gather_rng_states(self.d, self.generators)
        if self.d.main:
            save_train_state(self.out / "last.pt", self.model, self.opt, self.step,
                             {"spent": self.budget.spent(), **self.extra_state()}, rng)
        self.d.barrier()

    def end_step(self) -> None:
        """Checkpoint when due; call once per step after `update` (and after any validation of the step)."""
        if self.checkpoint_due():
            self.checkpoint()

    def summary(self) -> dict:
        """Close the progress bar; the stage's summary row (steps, seconds, images/s, final loss EMA)."""
        self.bar.close()
        seconds = self.timer.elapsed()
        images = (self.step - self.start) * self.images_per_step * self.d.world
        return {"stage": self.stage, "steps": self.step, "seconds": round(seconds, 1),
                "img_per_s": round(images / max(seconds, 1e-9), 2),
                f"{self.loss_name}_ema": self.ema if self.ema is not None else float("nan")}

    def close(self) -> None:
        """Flush TensorBoard and leave the process group (all ranks)."""
        self.log.close()
        self.d.barrier()
        cleanup_distributed()


def finish_relative(loop: TrainLoop, cfg, row: dict, provenance: str) -> dict:
    """End of a relative stage: rank 0 saves `model.safetensors` (our format), evaluates it and writes
    `summary.json`; every rank then closes the loop. Returns the summary row."""
    from .report import eval_relative_summary

    if loop.d.main:
        model = unwrap(loop.model)
        meta = ModelMeta(cfg.model.encoder, cfg.model.version, "relative",
                         input_size=tuple(loop.c.crop), provenance=provenance)
        save_checkpoint(model, loop.out / "model.safetensors", meta)
        row.update(eval_relative_summary(cfg, model))
        write_json(loop.out / "summary.json", row)
        print(summary_table([row]))
    loop.close()
    return row
