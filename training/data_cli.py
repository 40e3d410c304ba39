"""Write synthetic RGB-D shards: `python -m training.data_cli labeled|unlabeled|eval --out DIR --count N --size HxW`.

Frame k of a run (k = 0..count-1) is view k % V of scene seed_start + k // V (V = --views-per-scene).
Runs are resumable: frames whose meta file exists are skipped. `unlabeled` writes RGB only next to the meta
files and seals its depth under DIR/sealed/. `eval` is the fixed, versioned held-out set (its own seed stream
and texture pool); the standard set is `eval --count 400 --size 256x256` with the default seed start and views.
Also: `contact-sheet --out PNG` renders the documentation's sample sheet, and `export --dataset SPEC --out DIR`
converts any readable dataset (e.g. a rosbag2 drive) into the generic RGB-D folder format for fine-tuning.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from depth_anything_ros.data import shards
from depth_anything_ros import depth_io
from depth_anything_ros.data.synthetic.scene import GENERATOR_VERSION
from depth_anything_ros.data.synthetic.stream import frame_id, make_renderer, render_views

EVAL_SET_VERSION = "eval-v1"


def parse_size(text: str) -> tuple[int, int]:
    """'HxW' or 'N' -> (H, W), both >= 8 (rendered frames need not be multiples of 14)."""
    try:
        h, w = depth_io.parse_size(text, multiple=1)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if min(h, w) < 8:
        raise argparse.ArgumentTypeError(f"size must be HxW with both >= 8, got {text!r}")
    return h, w


def write_shard(domain: str, out: Path, count: int, height: int, width: int, seed_start: int = 0,
                views_per_scene: int = 4, renderer: str = "auto", kind: str = "mixed", progress: bool = True) -> dict:
    """Render and write `count` frames (resuming); returns {"written", "skipped", "seconds", "fps"}."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    info = {"domain": domain, "generator_version": GENERATOR_VERSION, "height": height, "width": width,
            "seed_start": seed_start, "views_per_scene": views_per_scene, "kind": kind}
    if domain == "eval":
        info["eval_set_version"] = EVAL_SET_VERSION
    info_path = out / "shard.json"
    if info_path.exists():
        import json

        old = json.loads(info_path.read_text())
        diff = {k: (old.get(k), v) for k, v in info.items() if old.get(k) != v}
        if diff:
            raise ValueError(f"{out} holds a different shard ({diff}); use another --out")
    else:
        shards.write_json(info_path, info)

    todo: dict[int, list[int]] = {}
    skipped = 0
    for k in range(count):
        seed, view = seed_start + k // views_per_scene, k % views_per_scene
        if shards.frame_complete(out, frame_id(domain, seed, view)):
            skipped += 1
        else:
            todo.setdefault(seed, []).append(view)
    n_todo = count - skipped
    r = make_renderer(renderer) if n_todo else None
    if n_todo:  # build the texture pool before the clock starts (about 0.5 s once per process)
        from depth_anything_ros.data.synthetic.textures import texture_pool

        texture_pool(domain)
    from tqdm import tqdm

    bar = tqdm(total=n_todo, desc=f"{domain} {height}x{width}", unit="frame", disable=not progress)
    t0 = time.perf_counter()
    written = 0
    for seed, views in todo.items():
        for fid, frame, meta in render_views(domain, seed, views, height, width, r, kind):
            shards.write_frame(out, fid, frame.rgb, frame.depth, frame.valid, meta, sealed=(domain == "unlabeled"))
            written += 1
            bar.update(1)
    bar.close()
    dt = time.perf_counter() - t0
    return {"written": written, "skipped": skipped, "seconds": dt, "fps": written / dt if dt > 0 else 0.0}


def export_folder(spec: str, out: Path, limit: int | None = None, progress: bool = True) -> int:
    """Write a dataset as a generic RGB-D folder (rgb/*.png, depth/*.png in mm, intrinsics.json with per-frame K)."""
    from tqdm import tqdm

    from depth_anything_ros.data.readers import open_dataset

    ds = open_dataset(spec)
    out = Path(out)
    (out / "rgb").mkdir(parents=True, exist_ok=True)
    (out / "depth").mkdir(parents=True, exist_ok=True)
    n = len(ds) if limit is None else min(limit, len(ds))
    frames = {}
    for i in tqdm(range(n), desc="export", unit="frame", disable=not progress):
        s = ds[i]
        stem = f"{i:06d}"
        shards.write_png(out / "rgb" / f"{stem}.png", s.image)
        shards.write_png(out / "depth" / f"{stem}.png", shards.encode_depth(s.depth, s.valid, shards.MM_SCALE))
        frames[stem] = {"K": s.K.tolist(), "source": s.source}
    shards.write_json(out / "intrinsics.json", {"depth_scale": shards.MM_SCALE, "frames": frames,
                                                "min_depth": ds.min_depth, "max_depth": ds.max_depth})
    return n


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.data_cli", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="domain", required=True,
                           metavar="{labeled,unlabeled,eval,robot,export,contact-sheet}")
    for domain, what in (("labeled", "training frames with depth"),
                         ("unlabeled", "shifted-domain RGB; depth sealed under DIR/sealed/"),
                         ("eval", f"the fixed held-out set ({EVAL_SET_VERSION})"),
                         ("robot", "a domain no demo stage sees (low wide camera, dim light): fine-tuning example")):
        s = sub.add_parser(domain, help=what)
        s.add_argument("--out", type=Path, required=True, help="shard directory")
        s.add_argument("--count", type=int, required=True, help="number of frames")
        s.add_argument("--size", type=parse_size, default=(256, 256), help="HxW (default 256x256)")
        s.add_argument("--seed-start", type=int, default=0, help="first scene seed (default 0)")
        s.add_argument("--views-per-scene", type=int, default=2 if domain == "eval" else 4)
        s.add_argument("--renderer", choices=["auto", "gl", "ray"], default="auto")
        s.add_argument("--kind", choices=["mixed", "indoor", "street"], default="mixed")
        s.add_argument("--quiet", action="store_true", help="no progress bar")
    e = sub.add_parser("export", help="write any dataset spec (e.g. rosbag:PATH) as a generic RGB-D folder")
    e.add_argument("--dataset", required=True, help="dataset spec, e.g. rosbag:PATH,rgb=/cam/image,depth=/cam/depth")
    e.add_argument("--out", type=Path, required=True)
    e.add_argument("--limit", type=int, default=None)
    c = sub.add_parser("contact-sheet", help="render the documentation contact sheet")
    c.add_argument("--out", type=Path, default=Path("docs/images/synthetic_contact_sheet.png"))
    c.add_argument("--renderer", choices=["auto", "gl", "ray"], default="auto")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.domain == "contact-sheet":
        from depth_anything_ros.data.synthetic.contact_sheet import contact_sheet

        contact_sheet(args.out, renderer=args.renderer)
        print(f"wrote {args.out}")
        return 0
    if args.domain == "export":
        try:
            n = export_folder(args.dataset, args.out, args.limit)
        except (ValueError, FileNotFoundError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"exported {n} frames to {args.out} (depth PNG in mm: values over 65.5 m are dropped)")
        return 0
    if args.count < 1 or args.views_per_scene < 1:
        print("error: --count and --views-per-scene must be >= 1", file=sys.stderr)
        return 2
    h, w = args.size
    try:
        res = write_shard(args.domain, args.out, args.count, h, w, args.seed_start, args.views_per_scene,
                          args.renderer, args.kind, progress=not args.quiet)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.domain}: wrote {res['written']} frames, skipped {res['skipped']} already complete, "
          f"{res['seconds']:.1f} s, {res['fps']:.1f} frames/s (render + PNG encode + write)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
