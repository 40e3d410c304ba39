"""What every training stage shares (the config lives in training/config.py): distributed setup, optimizer
groups, lr schedules, atomic checkpoints with resume, TensorBoard logging and the final summary table.

Distributed: launch any stage with `python -m torch.distributed.run --nproc-per-node N --standalone -m
training.cli ...`; `setup_distributed` reads RANK/WORLD_SIZE/LOCAL_RANK from the environment and picks
NCCL on CUDA, gloo on CPU. Only rank 0 writes checkpoints and logs; every write is temp file + os.replace,
so a run killed at any moment (even SIGKILL) leaves either the previous or the new checkpoint, never a
truncated one.
"""
from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

# ---------------------------------------------------------------------------------------------- distributed


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()



def setup_distributed(device: str = "auto", threads: int | None = 2) -> Dist:
    """Initialise torch.distributed when launched by torchrun; pick the device and thread count."""
    if threads:
        torch.set_num_threads(int(threads))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() if device == "auto" else device.startswith("cuda")
    dev = torch.device(f"cuda:{local}") if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return Dist(rank, world, local, dev)


def cleanup_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


# ---------------------------------------------------------------------------------------------- optimisation


def param_groups(model: torch.nn.Module, lr_encoder: float, decoder_mult: float = 10.0,
                 weight_decay: float = 0.01) -> list[dict]:
    """Two AdamW groups (V1 Sec. 4.1, V2 metric code): encoder (`pretrained.*`) at lr, everything else at lr × mult."""
    enc, dec = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        name = name[len("module."):] if name.startswith("module.") else name
        (enc if name.startswith("pretrained.") else dec).append(p)
    return [
        {"params": enc, "lr": lr_encoder, "base_lr": lr_encoder, "name": "encoder", "weight_decay": weight_decay},
        {"params": dec, "lr": lr_encoder * decoder_mult, "base_lr": lr_encoder * decoder_mult, "name": "decoder",
         "weight_decay": weight_decay},
    ]


def make_optimizer(model: torch.nn.Module, c) -> torch.optim.AdamW:
    """AdamW over `param_groups` with a stage config's lr_encoder, decoder_lr_mult and weight_decay."""
    groups = param_groups(model, c.lr_encoder, c.decoder_lr_mult, c.weight_decay)
    return torch.optim.AdamW(groups, betas=(0.9, 0.999))


def lr_factor(schedule: str, frac: float, step: int = 0, warmup: int = 0, power: float = 0.9) -> float:
    """Multiplier of the base lr at training progress `frac` in [0, 1]: "linear" decay to 0 (V1 §4.1),
    "poly" (1 - frac)^power (V2 metric, per iteration), or "constant"; optional linear warm-up in steps."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    frac = min(max(frac, 0.0), 1.0)
    if schedule == "linear":
        return 1.0 - frac
    if schedule == "poly":
        return (1.0 - frac) ** power
    if schedule == "constant":
        return 1.0
    raise ValueError(f"unknown lr schedule {schedule!r}; expected linear, poly or constant")


class Budget:
    """Training progress in [0, 1]: step / steps, or — when `max_minutes` is set — whichever of steps and
    wall-clock time runs out first (so a run on a busy machine still decays its lr to the end and stops in
    time). Time already spent before a resume is carried in the checkpoint (`spent`). All ranks agree:
    the time fraction is the max over ranks."""

    def __init__(self, steps: int, max_minutes: float | None, dist_info: "Dist", spent: float = 0.0):
        self.steps, self.limit = int(steps), (60.0 * float(max_minutes) if max_minutes else None)
        self.dist, self.t0, self.spent0 = dist_info, time.time(), float(spent)

    def spent(self) -> float:
        return self.spent0 + time.time() - self.t0

    def fraction(self, step: int) -> float:
        f = step / max(self.steps, 1)
        if self.limit:
            t = self.spent() / self.limit
            if self.dist.enabled:
                x = torch.tensor([t], dtype=torch.float64)
                dist.all_reduce(x, op=dist.ReduceOp.MAX)
                t = float(x.item())
            f = max(f, t)
        return f

    def done(self, step: int) -> bool:
        return self.fraction(step) >= 1.0


def set_lr(optimizer: torch.optim.Optimizer, factor: float) -> None:
    for g in optimizer.param_groups:
        g["lr"] = g["base_lr"] * factor


# ---------------------------------------------------------------------------------------------- checkpoints


def atomic_save(obj, path: str | Path) -> None:
    """torch.save to `path.tmp`, fsync, then os.replace: the file under `path` is always complete. A failed
    write (full disk, quota) removes the temp file and raises; the previous file is left untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, (OSError, RuntimeError)):  # torch.save reports a short write as RuntimeError
            msg = (f"{path}: checkpoint write failed ({(str(exc).splitlines() or [''])[0][:200]}); "
                   "the previous checkpoint is kept")
            raise (OSError(exc.errno, msg) if getattr(exc, "errno", None) else OSError(msg)) from exc
        raise


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if hasattr(model, "module") else model


def rng_state(generators: dict | None = None) -> dict:
    """This process's random state: Python `random`, NumPy, torch CPU, every CUDA device, and named
    torch.Generator objects (e.g. the augmentation stream)."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state(),
             "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
             "generators": {k: g.get_state() for k, g in (generators or {}).items()}}
    return state


def set_rng_state(state: dict, generators: dict | None = None) -> None:
    """Restore what `rng_state` returned (CUDA only when the same devices exist)."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
    for k, g in (generators or {}).items():
        if k in state.get("generators", {}):
            g.set_state(state["generators"][k])


def gather_rng_states(dist_info: "Dist", generators: dict | None = None) -> list[dict]:
    """Every rank's `rng_state`, in rank order (a collective: all ranks must call it)."""
    mine = rng_state(generators)
    if not dist_info.enabled:
        return [mine]
    out: list = [None] * dist_info.world
    dist.all_gather_object(out, mine)
    return out


def save_train_state(path: str | Path, model, optimizer, step: int, extra: dict | None = None,
                     rng: list[dict] | None = None) -> None:
    """The resumable state of a stage (model, optimizer, step, per-rank RNG states), written atomically.
    The data order needs no state of its own: `batches` is a pure function of (seed, step)."""
    state = {
        "model": unwrap(model).state_dict(),
        "optimizer": optimizer.state_dict(),
        "step": int(step),
        "rng": rng if rng is not None else [rng_state()],
        "extra": extra or {},
    }
    atomic_save(state, path)


def load_train_state(path: str | Path, model, optimizer=None) -> dict | None:
    """Restore model and optimizer from `path` if it exists; returns the state dict (with "step" and the
    per-rank "rng" list, restored by the caller once everything that draws at start-up is built) or None."""
    path = Path(path)
    if not path.exists():
        return None
    state = torch.load(path, map_location="cpu", weights_only=False)
    unwrap(model).load_state_dict(state["model"])
    if optimizer is not None and "optimizer" in state:
        optimizer.load_state_dict(state["optimizer"])
    return state


# ---------------------------------------------------------------------------------------------- logging


class Logger:
    """TensorBoard scalars and image grids on rank 0 (a no-op elsewhere or when tensorboard is missing)."""

    def __init__(self, log_dir: str | Path, enabled: bool = True):
        self.writer = None
        if enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(str(log_dir))
            except Exception:  # pragma: no cover - tensorboard is optional at run time
                self.writer = None

    def scalars(self, step: int, **values: float) -> None:
        if self.writer:
            for k, v in values.items():
                self.writer.add_scalar(k, float(v), step)

    def grid(self, tag: str, step: int, rows: list[list[torch.Tensor]]) -> None:
        """`rows` of images, each (3, H, W) or (H, W) (normalised to [0, 1] for display), one grid."""
        if not self.writer:
            return
        self.writer.add_image(tag, image_grid(rows), step)

    def close(self) -> None:
        if self.writer:
            self.writer.flush()
            self.writer.close()


def to_display(x: torch.Tensor) -> torch.Tensor:
    """(3, H, W) in [0, 1] unchanged; (H, W) maps min-max normalised to gray (3, H, W)."""
    x = x.detach().float().cpu()
    if x.dim() == 2:
        lo, hi = x.min(), x.max()
        x = ((x - lo) / (hi - lo + 1e-8))[None].expand(3, -1, -1)
    return x.clamp(0, 1)


def image_grid(rows: list[list[torch.Tensor]], pad: int = 2) -> torch.Tensor:
    """Tile rows of same-size images into one (3, H', W') tensor with white padding."""
    tiles = [[to_display(t) for t in row] for row in rows]
    h, w = tiles[0][0].shape[-2:]
    ncol = max(len(r) for r in tiles)
    out = torch.ones(3, len(tiles) * (h + pad) + pad, ncol * (w + pad) + pad)
    for i, row in enumerate(tiles):
        for j, t in enumerate(row):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            out[:, y : y + h, x : x + w] = t[:, :h, :w]
    return out


def summary_table(rows: list[dict], keys: list[str] | None = None) -> str:
    """A markdown table of dicts (the final summary every stage prints)."""
    if not rows:
        return ""
    keys = keys or list(rows[0])

    def fmt(v):
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    lines = ["| " + " | ".join(keys) + " |", "|" + "|".join("---" for _ in keys) + "|"]
    lines += ["| " + " | ".join(fmt(r.get(k, "")) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def write_json(path: str | Path, obj) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=1, sort_keys=True, default=str))
    os.replace(tmp, path)


class Timer:
    def __init__(self):
        self.t0 = time.time()

    def elapsed(self) -> float:
        return time.time() - self.t0


def code_version() -> str:
    """`git describe --always --dirty` of the checkout this code runs from, else the installed package version."""
    import subprocess

    here = Path(__file__).resolve().parent
    try:
        r = subprocess.run(["git", "describe", "--always", "--dirty", "--tags"], cwd=here, capture_output=True,
                           text=True, timeout=10)
        if r.returncode == 0 and r.stdout.strip():
            return "git " + r.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        from importlib.metadata import version

        return "depth_anything_ros " + version("depth_anything_ros")
    except Exception:
        return "unknown"


def finite_or_raise(value: torch.Tensor, what: str) -> None:
    if not math.isfinite(float(value.detach())):
        raise FloatingPointError(f"{what} is not finite ({float(value)}); lower the learning rate")
