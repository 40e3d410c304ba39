"""Throughput of one student training step (images/s), on random data, for any preset and size.

    python -m training.stages.bench --encoder vits --size 518 --labeled 8 --unlabeled 16 --steps 20 --device cuda

The step is the real one of `train_student` (perturbations, CutMix, one forward of labeled + unlabeled,
affine-invariant + CutMix + feature-alignment losses against a frozen encoder, AdamW) with random images
and labels, so no data or weights are needed. Prints images/s over the timed steps (after warm-up).
"""
from __future__ import annotations

import argparse
import time

import torch

from depth_anything_ros.model import build_model
from ..augment import apply_cutmix, cutmix_boxes, strong_color
from ..engine import param_groups
from ..losses import affine_invariant_loss, cutmix_affine_invariant_loss, feature_alignment_loss
from .common import final_tokens, normalize


def bench(encoder: str, size: int, n_l: int, n_u: int, steps: int, warmup: int, device: str, amp: bool) -> float:
    dev = torch.device(device)
    model = build_model(encoder).to(dev).train()
    frozen = build_model(encoder).pretrained.to(dev).eval().requires_grad_(False)
    opt = torch.optim.AdamW(param_groups(model, 5e-6, 10.0, 0.01))
    g = torch.Generator().manual_seed(0)
    img_l = torch.rand(n_l, 3, size, size, device=dev)
    tgt_l = torch.rand(n_l, size, size, device=dev)
    img_u = torch.rand(n_u, 3, size, size)
    pl = torch.rand(n_u, size, size, device=dev)

    def step():
        img_s = strong_color(img_u.to(dev), g)
        box = cutmix_boxes(n_u, size, size, g).to(dev)
        img_s = apply_cutmix(img_s, box, img_s.roll(1, dims=0))
        x = normalize(torch.cat([img_l, img_s]))
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
            pred, tok = model(x, return_features=True)
            with torch.no_grad():
                ref = final_tokens(frozen, x[n_l:])
        pred, tok, ref = pred.float(), tok.float(), ref.float()
        loss = (affine_invariant_loss(pred[:n_l], tgt_l) + cutmix_affine_invariant_loss(pred[n_l:], pl, pl.roll(1, 0), box)
                + feature_alignment_loss(tok[n_l:], ref)) / 3
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(warmup):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return steps * (n_l + n_u) / (time.perf_counter() - t0)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--encoder", default="vits")
    p.add_argument("--size", type=int, default=518)
    p.add_argument("--labeled", type=int, default=8)
    p.add_argument("--unlabeled", type=int, default=16)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--amp", action="store_true", help="bf16 autocast for the forward passes")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    ips = bench(a.encoder, a.size, a.labeled, a.unlabeled, a.steps, a.warmup, a.device, a.amp)
    print(f"student step, {a.encoder} @ {a.size}x{a.size}, batch {a.labeled}+{a.unlabeled}, {a.device}"
          f"{' bf16' if a.amp else ''}: {ips:.2f} images/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
