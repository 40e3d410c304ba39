"""Exact resume: a run killed with SIGKILL and resumed ends bit for bit where an uninterrupted run ends
(single process and 2-process gloo torchrun), and a failed checkpoint write keeps the previous checkpoint."""
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from train_helpers import CONFIG, REPO, cli, overrides

STEPS = 24


def _cmd(torchrun: int):
    head = [sys.executable]
    if torchrun:
        head += ["-m", "torch.distributed.run", "--nproc-per-node", str(torchrun), "--standalone"]
    return head + ["-m", "training.cli"]


def _descendants(pid: int) -> list[int]:
    """Every process below `pid` (torchrun's workers run in their own sessions, so a process-group kill
    misses them)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    kids = [int(k) for k in fh.read().split()]
                out += kids
                todo += kids
        except (FileNotFoundError, ProcessLookupError):
            pass
    return out


def _kill_tree(pid: int) -> None:
    for p in [pid, *_descendants(pid)]:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _kill_after(args, last, min_step: int, torchrun: int = 0) -> int:
    """Start a stage, SIGKILL it and every process under it once `last` holds step >= min_step; returns that step."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    proc = subprocess.Popen(_cmd(torchrun) + list(args), cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            try:
                if last.exists() and torch.load(last, weights_only=False)["step"] >= min_step:
                    break
            except Exception:  # the file is replaced while we read it
                pass
            time.sleep(0.05)
        _kill_tree(proc.pid)  # mid-step, possibly mid-write
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            _kill_tree(proc.pid)
    step = torch.load(last, weights_only=False)["step"]
    assert 0 < step < STEPS, f"the kill landed at step {step}; the test needs an interrupted run"
    return step


def _same_state(a, b):
    sa, sb = torch.load(a, weights_only=False), torch.load(b, weights_only=False)
    assert sa["step"] == sb["step"] == STEPS
    for k, v in sa["model"].items():
        assert torch.equal(v, sb["model"][k]), k
    for (ka, va), (kb, vb) in zip(sorted(sa["optimizer"]["state"].items()), sorted(sb["optimizer"]["state"].items())):
        assert all(torch.equal(va[n], vb[n]) for n in va)
    assert [r["python"] for r in sa["rng"]] == [r["python"] for r in sb["rng"]]


@pytest.mark.slow
@pytest.mark.parametrize("stage, section, torchrun", [("finetune-metric", "metric", 0), ("train-teacher", "teacher", 2)])
def test_killed_and_resumed_equals_uninterrupted(tmp_path, tiny_data, stage, section, torchrun):
    common = [f"{section}.steps={STEPS}", f"{section}.ckpt_every=1", "tensorboard=false", "progress=false"]
    if section == "metric":  # the metric stage starts from a saved relative model (random weights: plumbing only)
        from depth_anything_ros.model import build_model
        from depth_anything_ros.model.checkpoint import save_checkpoint

        torch.manual_seed(0)
        save_checkpoint(build_model("vitt"), tmp_path / "init.safetensors")
        common.append(f"metric.init_from={tmp_path / 'init.safetensors'}")
    a, b = tmp_path / "a", tmp_path / "b"
    r = cli(stage, "--config", CONFIG, *overrides(a, tiny_data, *common), torchrun=torchrun)
    assert r.returncode == 0, r.stderr[-3000:]
    args = [stage, "--config", CONFIG, *overrides(b, tiny_data, *common)]
    killed_at = _kill_after(args, b / section / "last.pt", 3, torchrun)
    r = cli(*args, torchrun=torchrun)
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"at step {killed_at}" in r.stdout
    _same_state(a / section / "last.pt", b / section / "last.pt")


def test_full_disk_during_checkpoint_keeps_the_previous_one(tmp_path):
    """A real write failure (the kernel refuses to grow the file past RLIMIT_FSIZE: EFBIG, as on a full disk)."""
    from depth_anything_ros.model import build_model
    from training.engine import save_train_state

    model = build_model("vitt")
    opt = torch.optim.AdamW(model.parameters())
    last = tmp_path / "last.pt"
    save_train_state(last, model, opt, 7)
    before = last.read_bytes()
    child = f"""
import resource, signal, sys, torch
sys.path.insert(0, {str(REPO)!r})
from depth_anything_ros.model import build_model
from training.engine import save_train_state
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
m = build_model("vitt")
resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
try:
    save_train_state({str(last)!r}, m, torch.optim.AdamW(m.parameters()), 8)
except OSError as exc:
    print("failed:", exc)
    sys.exit(3)
"""
    r = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=120)
    assert r.returncode == 3, (r.stdout, r.stderr[-2000:])
    assert "checkpoint write failed" in r.stdout and "the previous checkpoint is kept" in r.stdout
    assert last.read_bytes() == before and torch.load(last, weights_only=False)["step"] == 7
    assert os.listdir(tmp_path) == ["last.pt"]  # the partial temp file is gone
