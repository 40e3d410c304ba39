"""CPU benchmark: torch eager vs ONNX Runtime, same model, same frame, same run.

Cases: the `vitt` demo preset at its demo network size 266x350, and `vits` at 518x392. Weights are
random (timing does not depend on them). The two engines are timed in alternating blocks so that
load from other processes on a shared machine hits both alike; the ratio is torch p50 / ORT p50.

    .venv/bin/python benchmarks/bench_engines.py [--threads 2] [--json out.json]

Prints a markdown table for docs/benchmarks.md (## Engines). Each thread count in `--threads` is a
separate pair of measurements (torch.set_num_threads and ORT intra-op threads set alike): on a
machine shared with other jobs, 2 OpenMP threads on 2 cores can be far slower than 1 for torch.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from depth_anything_ros.cli.bench import cpu_model, sample_frame, summarize, versions  # noqa: E402
from depth_anything_ros.inference.engines.onnxruntime_engine import OnnxRuntimeEngine  # noqa: E402
from depth_anything_ros.inference.engines.torch_engine import TorchEngine  # noqa: E402
from depth_anything_ros.inference.export import export_onnx  # noqa: E402
from depth_anything_ros.model import build_model  # noqa: E402
from depth_anything_ros.model.checkpoint import ModelMeta  # noqa: E402

# (encoder, network size, timed frames per engine, block size)
CASES = (("vitt", (266, 350), 40, 10), ("vits", (518, 392), 12, 4))


def bench_case(encoder: str, size: tuple[int, int], frames: int, block: int, warmup: int, threads: int,
               workdir: Path) -> dict:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = build_model(encoder, "v2", "relative")
    meta = ModelMeta(encoder, "v2", "relative")
    onnx_path = export_onnx(model, meta, workdir / f"{encoder}_{size[0]}x{size[1]}.onnx", *size)
    engines = {"torch": TorchEngine(model, meta), "onnxruntime": OnnxRuntimeEngine(onnx_path, threads=threads)}
    batch = sample_frame(size)
    for engine in engines.values():
        for _ in range(warmup):
            engine.infer(batch)
    times = {name: [] for name in engines}
    while any(len(t) < frames for t in times.values()):
        for name, engine in engines.items():
            for _ in range(min(block, frames - len(times[name]))):
                t0 = time.perf_counter()
                engine.infer(batch)
                times[name].append((time.perf_counter() - t0) * 1000.0)
        print(f"  {encoder} {size[0]}x{size[1]}: {len(times['torch'])}/{frames} frames", file=sys.stderr)
    stats = {name: summarize(t) for name, t in times.items()}
    return {"encoder": encoder, "size": f"{size[0]}x{size[1]}", "threads": threads, **stats,
            "ratio_torch_over_ort": round(stats["torch"]["p50_ms"] / stats["onnxruntime"]["p50_ms"], 2)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    thread_counts = [int(t) for t in args.threads.split(",") if t.strip()]
    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for encoder, size, frames, block in CASES:
            for threads in thread_counts:
                rows.append(bench_case(encoder, size, frames, block, args.warmup, threads, Path(tmp)))
    load_after = os.getloadavg()
    info = {"machine": {"cpu": cpu_model(), "cores": os.cpu_count(),
                        "load_avg_1min_before_after": [round(load_before[0], 2), round(load_after[0], 2)]},
            "versions": versions(), "results": rows}
    v = info["versions"]
    print(f"CPU: {info['machine']['cpu']}, {info['machine']['cores']} cores; torch {v.get('torch')}, "
          f"onnxruntime {v.get('onnxruntime')}, Python {v['python']}; 1-min load average "
          f"{load_before[0]:.2f} before, {load_after[0]:.2f} after")
    print()
    print("| model | network size | threads | torch p50 / p99 (ms) | ONNX Runtime p50 / p99 (ms) | torch / ORT (p50) | frames |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        t, o = r["torch"], r["onnxruntime"]
        print(f"| {r['encoder']} | {r['size']} | {r['threads']} | {t['p50_ms']:.1f} / {t['p99_ms']:.1f} | "
              f"{o['p50_ms']:.1f} / {o['p99_ms']:.1f} | {r['ratio_torch_over_ort']:.2f} | {t['frames']} each |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(info, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
