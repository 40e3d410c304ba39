"""`depth-anything-ros bench`: latency (p50/p99), FPS and peak memory of one engine at several sizes.

Each size: `--warmup` untimed frames, then `--frames` timed `engine.infer` calls on one preprocessed
real photo (host array in, host array out: what the node pays). Torch on CUDA also reports GPU time
(CUDA events around the forward on a device tensor, no copies).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ..inference.engines import ENGINE_NAMES
from . import CLIError


def register(subparsers) -> None:
    parser = subparsers.add_parser("bench", help="latency and memory of an engine",
                                   description="Warm up, then time an engine over N frames at each size.")
    parser.add_argument("--engine", choices=ENGINE_NAMES, default="torch")
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", type=Path, help="torch: any supported checkpoint")
    src.add_argument("--onnx", type=Path, help="onnxruntime / tensorrt: an exported ONNX file")
    src.add_argument("--plan", type=Path, help="tensorrt: a plan built by `export tensorrt`")
    parser.add_argument("--encoder", default=None, help="torch: encoder preset of an official .pth")
    parser.add_argument("--version", default=None, choices=("v1", "v2"))
    parser.add_argument("--kind", default=None, choices=("relative", "metric"))
    parser.add_argument("--max-depth", type=float, default=None)
    parser.add_argument("--sizes", default="518x518", help="comma-separated network sizes HxW (default 518x518)")
    parser.add_argument("--frames", type=int, default=50, help="timed frames per size (default 50)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed frames per size first (default 5)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--precision", choices=("fp32", "fp16", "int8"), default=None,
                        help="torch: fp32 (default) or fp16; onnxruntime / tensorrt: the file's (a different value "
                             "is an error)")
    parser.add_argument("--cuda-graphs", action="store_true", help="torch on cuda: capture CUDA graphs")
    parser.add_argument("--compile", action="store_true", help="torch: torch.compile the model")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (torch / onnxruntime)")
    parser.add_argument("--json", type=Path, default=None, help="write the results as JSON here")
    parser.set_defaults(func=run)


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """'308x308,518x392' -> [(308, 308), (518, 392)]; CLIError on anything else."""
    from ..depth_io import parse_sizes as _parse_sizes

    try:
        return _parse_sizes(text)
    except ValueError as exc:
        raise CLIError(f"--sizes: {exc}") from None


# ---------------------------------------------------------------------------------------------- machine


def cpu_model() -> str:
    """CPU model name (lscpu, else /proc/cpuinfo, else platform)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=5, env={**os.environ, "LC_ALL": "C"}).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions() -> dict:
    """Versions of the libraries an engine may use (only those installed)."""
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for dist in ("torch", "onnxruntime", "onnxruntime-gpu", "onnx", "tensorrt", "cuda-python", "numpy", "opencv-python-headless"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    return out


def machine_info() -> dict:
    info = {"cpu": cpu_model(), "cores": os.cpu_count(), "platform": platform.platform()}
    if "torch" in sys.modules:
        import torch

        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    return info


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ---------------------------------------------------------------------------------------------- timing


def sample_frame(size: tuple[int, int]) -> np.ndarray:
    """A real photo preprocessed to `size` (the content does not change the timing; it keeps ranges real)."""
    from ..inference.preprocess import Preprocessor

    try:
        from skimage import data

        rgb = data.astronaut()
    except ImportError:
        rgb = np.random.default_rng(0).integers(0, 255, (512, 512, 3), dtype=np.uint8)
    return Preprocessor(size)(rgb)


def summarize(latencies_ms: list[float]) -> dict:
    """p50 / p99 / mean / min (ms) and FPS from per-frame latencies."""
    arr = np.asarray(latencies_ms, dtype=np.float64)
    p50 = float(np.percentile(arr, 50))
    return {"p50_ms": round(p50, 3), "p99_ms": round(float(np.percentile(arr, 99)), 3),
            "mean_ms": round(float(arr.mean()), 3), "min_ms": round(float(arr.min()), 3),
            "fps": round(1000.0 / float(arr.mean()), 2), "frames": int(arr.size)}


def time_engine(engine, size: tuple[int, int], frames: int, warmup: int, progress: bool = True) -> dict:
    """Warm up, then time `frames` calls of `engine.infer` at `size`; returns `summarize` + memory."""
    from tqdm import tqdm

    batch = sample_frame(size)
    cuda_torch = getattr(engine, "device", None) is not None and getattr(engine.device, "type", "") == "cuda"
    if cuda_torch:
        import torch

        torch.cuda.reset_peak_memory_stats(engine.device)
    for _ in range(warmup):
        engine.infer(batch)
    times = []
    label = f"{engine.name} {size[0]}x{size[1]}"
    for _ in tqdm(range(frames), desc=label, unit="frame", disable=None if progress else True, leave=False, file=sys.stderr):
        t0 = time.perf_counter()
        engine.infer(batch)
        times.append((time.perf_counter() - t0) * 1000.0)
    result = {"size": f"{size[0]}x{size[1]}", **summarize(times)}
    if cuda_torch:
        result["gpu_ms"] = gpu_time_torch(engine, batch, frames)
        result["peak_mem_mb"] = round(torch.cuda.max_memory_allocated(engine.device) / 2**20, 1)
        result["mem_kind"] = "torch.cuda.max_memory_allocated"
    else:
        result["peak_mem_mb"] = round(peak_rss_mb(), 1)
        result["mem_kind"] = "process peak RSS"
    return result


def gpu_time_torch(engine, batch: np.ndarray, frames: int) -> dict:
    """GPU time of the forward alone (CUDA events, input already on the device): p50 / p99 ms."""
    import torch

    x = torch.from_numpy(batch).to(engine.device, engine.dtype)
    times = []
    for _ in range(frames):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        engine.run(x)
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    s = summarize(times)
    return {"p50_ms": s["p50_ms"], "p99_ms": s["p99_ms"]}


# ---------------------------------------------------------------------------------------------- engines


def make_engine(args: argparse.Namespace, sizes: list[tuple[int, int]]):
    """The engine asked for (opened by `open_model`, like every entry point), with clear errors for
    combinations that cannot run."""
    from ..inference import open_model
    from ..model.checkpoint import CheckpointError

    if args.engine != "torch" and (args.cuda_graphs or args.compile):
        raise CLIError("--cuda-graphs / --compile apply to --engine torch")
    size = None
    if args.engine == "torch":
        if args.checkpoint is None:
            raise CLIError("--engine torch needs --checkpoint")
        if args.precision == "int8":
            raise CLIError("--engine torch runs fp32 or fp16")
        args.precision = args.precision or "fp32"
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        path, options = args.checkpoint, dict(
            encoder=args.encoder, version=args.version, kind=args.kind, max_depth=args.max_depth, device=args.device,
            precision=args.precision, cuda_graphs=args.cuda_graphs, compile=args.compile)
    elif args.engine == "onnxruntime":
        if args.onnx is None:
            raise CLIError("--engine onnxruntime needs --onnx")
        path, options = args.onnx, dict(threads=args.threads, device=args.device)
    else:
        path = args.plan or args.onnx
        if path is None:
            raise CLIError("--engine tensorrt needs --plan or --onnx")
        # an .onnx is built (or taken from the cache) for the first size; a .plan carries its own precision
        options = dict(precision=args.precision)
        size = sizes[0] if args.onnx else None
    try:
        engine = open_model(path, args.engine, size, **options).engine
    except (CheckpointError, OSError, RuntimeError, ValueError) as exc:
        raise CLIError(str(exc).splitlines()[0]) from None
    if args.engine == "onnxruntime" and args.precision not in (None, engine.precision):
        raise CLIError(f"--precision {args.precision}: {path} holds a {engine.precision} graph (the precision is "
                       "the file's; make a variant with `export precision`)")
    _check_static(engine, sizes, path)
    return engine


def _check_static(engine, sizes, path) -> None:
    if engine.input_size is None:
        return
    other = [s for s in sizes if tuple(s) != tuple(engine.input_size)]
    if other:
        h, w = engine.input_size
        raise CLIError(f"{path} runs at {h}x{w} only, --sizes asks for {other[0][0]}x{other[0][1]}: export one "
                       f"file per size (`export onnx --height H --width W`) or one with --dynamic")


def run(args: argparse.Namespace) -> int:
    sizes = parse_sizes(args.sizes)
    if args.frames < 1 or args.warmup < 0:
        raise CLIError("--frames must be >= 1 and --warmup >= 0")
    engine = make_engine(args, sizes)
    info = {"engine": engine.describe(), "machine": machine_info(), "versions": versions(),
            "frames": args.frames, "warmup": args.warmup, "results": []}
    print(f"engine   {json.dumps(info['engine'])}")
    print(f"machine  {info['machine']['cpu']}, {info['machine']['cores']} cores"
          + (f", {info['machine']['gpu']}" if "gpu" in info["machine"] else ""))
    print("versions " + ", ".join(f"{k} {v}" for k, v in info["versions"].items()))
    print(f"{'size':>9} {'p50 ms':>9} {'p99 ms':>9} {'FPS':>8} {'peak MB':>9}  memory")
    try:
        for size in sizes:
            r = time_engine(engine, size, args.frames, args.warmup)
            info["results"].append(r)
            gpu = f"  gpu p50 {r['gpu_ms']['p50_ms']} ms p99 {r['gpu_ms']['p99_ms']} ms" if "gpu_ms" in r else ""
            print(f"{r['size']:>9} {r['p50_ms']:>9.2f} {r['p99_ms']:>9.2f} {r['fps']:>8.2f} {r['peak_mem_mb']:>9.1f}  "
                  f"{r['mem_kind']}{gpu}")
    finally:
        engine.close()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(info, indent=2))
        print(f"wrote {args.json}")
    return 0
