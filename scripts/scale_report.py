"""Metric-scale report: the numbers and figure of docs/scale.md (run from the repository root, CPU, ~5 min).

  PYTHONPATH=$PWD python scripts/scale_report.py --out /tmp/scale_report [--frames 20]

Renders the synthetic eval sequences (indoor and street, camera moving through a static scene) and two FOV
sets of the same indoor scenes, then evaluates the shipped demo metric model (and its inverse depth treated as
an affine-invariant "relative" output) without anchors and with each simulated anchor kind, through
`depth_anything_ros.evaluation` (the code behind `eval --anchors`). Writes report.json, prints markdown tables
and saves docs/images/scale_temporal.png.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "demo_vitt_metric.safetensors"
H, W = 266, 350
SPECS = ["none", "range", "ground", "lidar:16", "lidar:4", "sparse:0.01", "sparse:0.001", "rgbd:0.3"]


def render(out: Path, frames: int):
    from depth_anything_ros.data.synthetic.sequence import write_sequence
    from depth_anything_ros.data.synthetic.stream import make_renderer

    r = make_renderer("auto")
    sets = {}
    for kind, seeds in (("indoor", (101, 102)), ("street", (201, 202))):
        d = out / f"seq_{kind}"
        if not d.exists():
            for s in seeds:
                write_sequence(d, s, kind, frames, H, W, r)
        sets[kind] = d
    for fov in (64.2, 90.0):  # 64.2 deg = the demo model's training focal (279.1 px at 350 px wide)
        d = out / f"fov{fov:g}"
        if not d.exists():
            for s in range(300, 312):
                write_sequence(d, s, "indoor", 1, H, W, r, fov_deg=fov)
        sets[f"fov{fov:g}"] = d
    return sets


_CACHE: dict = {}


def cached_predict(est, rgb):
    """The network output of one image, computed once: every anchor kind sees the same prediction."""
    import hashlib

    key = (id(est), hashlib.md5(rgb.tobytes()).hexdigest())
    if key not in _CACHE:
        _CACHE[key] = est.predict(rgb)
    return _CACHE[key].copy()


def evaluate_one(est, dataset, spec: str | None, kind: str, dataset_name: str):
    """`est` is the metric model; for kind "relative" a relative model, or (stand-in) the metric model whose
    inverse depth is then used as an affine-invariant output."""
    from depth_anything_ros.evaluation.anchored import AnchoredPredictor, AnchorSpec
    from depth_anything_ros.evaluation.evaluate import evaluate

    def predict(rgb):
        p = cached_predict(est, rgb)
        return p if kind == "metric" or est.kind == "relative" else 1.0 / np.maximum(p, 1e-3)
    anchors = None
    if spec is not None:
        anchors = AnchoredPredictor(AnchorSpec.parse(spec), kind, est.meta.training_focal, est.preprocessor.size_for)
    res = evaluate(predict, dataset, kind=kind, min_depth=0.1, max_depth=80.0 if "street" in dataset_name else 20.0,
                   progress=False, anchors=anchors)
    return res


class Subset:
    """Frames of one sequence (by id prefix) of a shard dataset, in order."""

    def __init__(self, ds, prefix):
        self.ds, self.idx = ds, [i for i, f in enumerate(ds.ids) if f.startswith(prefix)]
        self.min_depth, self.max_depth = ds.min_depth, ds.max_depth

    def __len__(self):
        return len(self.idx)

    def __getitem__(self, i):
        return self.ds[self.idx[i]]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("/tmp/scale_report"))
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--relative-model", type=Path, default=None,
                    help="a relative model for the relative rows (default: the metric model's inverse depth)")
    args = ap.parse_args()
    from depth_anything_ros.data.readers import open_dataset
    from depth_anything_ros.inference import open_model

    args.out.mkdir(parents=True, exist_ok=True)
    sets = render(args.out, args.frames)
    est = open_model(MODEL, network_size=(H, W))
    rel = open_model(args.relative_model, network_size=(H, W)) if args.relative_model else est
    assert rel.kind == "relative" or rel is est, f"{args.relative_model} is not a relative model"
    model_for = {"metric": est, "relative": rel}
    report = {"table": [], "focal": [], "temporal": {}}
    datasets = {"synthetic indoor sequences": open_dataset(f"synthetic:{sets['indoor']}"),
                "synthetic street sequences": open_dataset(f"synthetic:{sets['street']}"),
                "Middlebury Motorcycle": open_dataset("middlebury")}
    for name, ds in datasets.items():
        for kind in ("metric", "relative"):
            rows = [("no anchors (plain eval)", None)] + [(s, s) for s in SPECS]
            if kind == "relative":
                rows = [("lsq scale+shift on all GT (oracle)", None)] + [(s, s) for s in SPECS if s != "none"]
            for label, spec in rows:
                if "sequences" in name and spec is not None:
                    # one stream per sequence, so the hold/smoothing never carries over a scene change
                    rs = [evaluate_one(model_for[kind], Subset(ds, p), spec, kind, name)
                          for p in sorted({f[:7] for f in ds.ids})]
                    m = {k: float(np.mean([r["mean"][k] for r in rs if r["count"]])) for k in ("abs_rel", "d1")}
                    count = sum(r["count"] for r in rs)
                    skipped = sum(len(r["skipped"]) for r in rs)
                else:
                    r = evaluate_one(model_for[kind], ds, spec, kind, name)
                    m, count, skipped = r["mean"], r["count"], len(r["skipped"])
                row = {"set": name, "model": kind, "anchors": label, "abs_rel": m.get("abs_rel"), "d1": m.get("d1"),
                       "frames": count, "skipped": skipped}
                report["table"].append(row)
                print(row, flush=True)
    # focal rule: same indoor scenes at the training FOV and at 90 degrees
    for fov in ("fov64.2", "fov90"):
        ds = open_dataset(f"synthetic:{sets[fov]}")
        for focal in ("off", "auto"):
            r = evaluate_one(est, ds, f"none,focal={focal}", "metric", "indoor")
            row = {"fov": fov[3:], "focal_rescale": focal, "abs_rel": r["mean"]["abs_rel"], "d1": r["mean"]["d1"],
                   "frames": r["count"]}
            report["focal"].append(row)
            print(row, flush=True)
    # temporal stability on the sequences, sparse LiDAR, with and without smoothing
    seq = {}
    for kind in ("indoor", "street"):
        ds = open_dataset(f"synthetic:{sets[kind]}")
        for p in sorted({f[:7] for f in ds.ids}):
            for kindm in ("metric", "relative"):
                for smooth in (1.0, 0.3):
                    spec = f"lidar:4,noise=0.03,smooth={smooth:g}"
                    r = evaluate_one(model_for[kindm], Subset(ds, p), spec, kindm, kind)
                    key = f"{p} {kindm} smooth={smooth:g}"
                    seq[key] = {"temporal": r["temporal"], "abs_rel": r["mean"]["abs_rel"],
                                "log_scale_error": [x["log_scale_error"] for x in r["per_sample"]]}
                    print(key, r["temporal"], round(r["mean"]["abs_rel"], 4), flush=True)
    report["temporal"] = seq
    (args.out / "report.json").write_text(json.dumps(report, indent=1, default=float))
    plot(seq, ROOT / "docs" / "images" / "scale_temporal.png")
    return 0


def plot(seq: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    prefixes = sorted({k.split()[0] for k in seq})
    fig, axes = plt.subplots(2, len(prefixes), figsize=(3.6 * len(prefixes), 5.2), squeeze=False)
    for col, p in enumerate(prefixes):
        for row, kindm in enumerate(("metric", "relative")):
            ax = axes[row, col]
            for smooth, style in ((1.0, "-"), (0.3, "-")):
                v = seq[f"{p} {kindm} smooth={smooth:g}"]
                lab = f"{'no smoothing' if smooth == 1 else 'smoothing 0.3'} (jitter {v['temporal']['scale_jitter']:.3f})"
                ax.plot(v["log_scale_error"], style, label=lab, lw=1.4 if smooth == 1 else 2.2)
            ax.axhline(0.0, color="k", lw=0.5)
            ax.set_title(f"{'indoor' if p[1] == 'i' else 'street'} {p[2:]} · {kindm}", fontsize=8)
            ax.set_xlabel("frame", fontsize=7)
            ax.set_ylabel("median log(pred / gt)", fontsize=7)
            ax.tick_params(labelsize=7)
            ax.legend(fontsize=6)
    fig.suptitle("scale error per frame, 4-line LiDAR anchors with 3 % noise (demo metric model; relative model)",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
