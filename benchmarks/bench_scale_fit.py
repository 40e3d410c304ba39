"""Per-frame cost of the scale fit at 640x480 with 10k anchors, and the robust-fit choice (docs/benchmarks.md,
docs/scale.md).

  PYTHONPATH=$PWD python benchmarks/bench_scale_fit.py [--repeats 200]

Timed: `ScaleStage.apply` on a 640x480 float32 output with 10 000 LiDAR-like points (projection, sampling,
RANSAC + LS, smoothing, in-place scaling), for a metric (scale) and a relative (scale + shift) model.
Compared on the same anchors with 0/10/30/45 % gross outliers: plain LS, Huber IRLS (scipy.optimize.least_squares,
loss="huber"), trimmed LS (drop the worst 30 %, 5 rounds) and the RANSAC fit the node uses.
"""
from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from depth_anything_ros.scale import AnchorInput, ScaleConfig, ScaleStage, fit_scale

H, W, N = 480, 640, 10_000
K = np.array([[525.0, 0, 319.5], [0, 525.0, 239.5], [0, 0, 1]])


def scene(rng):
    v, u = np.mgrid[0:H, 0:W]
    depth = 1.5 + 4.0 * (v / H) + 1.5 * np.sin(u / 80.0) ** 2
    idx = rng.choice(H * W, N, replace=False)
    z = depth.flat[idx]
    uu, vv = idx % W, idx // W
    pts = np.stack([(uu - K[0, 2]) / K[0, 0] * z, (vv - K[1, 2]) / K[1, 1] * z, z], 1)
    return depth, pts


def timed(fn, repeats):
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(ts)), float(np.percentile(ts, 99))


def lsq_affine(x, z):
    a = np.stack([z * x, z], 1)
    return np.linalg.lstsq(a, np.ones_like(z), rcond=None)[0]


def huber_affine(x, z):
    from scipy.optimize import least_squares

    s0 = lsq_affine(x, z)
    r = least_squares(lambda p: z * (p[0] * x + p[1]) - 1.0, s0, loss="huber", f_scale=0.05)
    return r.x


def trimmed_affine(x, z, keep=0.7, rounds=5):
    idx = np.arange(z.size)
    p = lsq_affine(x, z)
    for _ in range(rounds):
        r = np.abs(z * (p[0] * x + p[1]) - 1.0)
        idx = np.argsort(r)[: int(keep * z.size)]
        p = lsq_affine(x[idx], z[idx])
    return p


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=200)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    depth, pts = scene(rng)
    print(f"machine: {platform.processor() or platform.machine()}, {platform.python_version()}, numpy {np.__version__}")
    for kind, out in (("metric", (depth / 1.3).astype(np.float32)), ("relative", ((1 / depth - 0.02) / 3.0).astype(np.float32))):
        stage = ScaleStage(kind, None, ScaleConfig(source="points"))
        inp = AnchorInput("points", points=pts)
        buf = out.copy()

        def once():
            np.copyto(buf, out)
            stage.apply(buf, 0.0, K, K, (H, W), None, inp)
        med, p99 = timed(once, args.repeats)
        print(f"ScaleStage.apply {kind:8s} 640x480, {N} anchors: median {med:.2f} ms, p99 {p99:.2f} ms "
              f"(scale {stage.status.scale:.4f}, shift {stage.status.shift:.4f}, inliers {stage.status.inliers})")
        cp = out.copy()
        med, p99 = timed(lambda: np.copyto(buf, cp), args.repeats)
        print(f"  (of which the 640x480 copy in this loop: median {med:.2f} ms)")
    # robust-fit choice: relative (affine) model, s = 3, t = 0.02, 1 % noise, gross outliers
    z = pts[:, 2]
    x = (1 / z - 0.02) / 3.0
    print("\nrelative fit, true s = 3, t = 0.02; |s error| / s, |t error|, median ms over 20 runs")
    for frac in (0.0, 0.1, 0.3, 0.45):
        zz = z * (1 + 0.01 * rng.standard_normal(z.size))
        bad = rng.random(z.size) < frac
        zz[bad] *= rng.uniform(0.3, 0.7, bad.sum())  # occluders, e.g. LiDAR points seen past an edge: nearer
        row = [f"outliers {frac:4.0%}"]
        for name, fn in (("LS", lsq_affine), ("Huber IRLS", huber_affine), ("trimmed LS", trimmed_affine),
                         ("RANSAC+LS", lambda a, b: (lambda f: (f.scale, f.shift))(fit_scale(a, b, "affine")))):
            s, t = fn(x, zz)
            med, _ = timed(lambda: fn(x, zz), 20)
            row.append(f"{name}: {abs(s - 3) / 3:.4f} / {abs(t - 0.02):.4f} / {med:.1f} ms")
        print("  ".join(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
