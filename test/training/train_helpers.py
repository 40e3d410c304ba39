"""Helpers of the training stage tests: run the training CLI in a subprocess, tiny-config overrides."""
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONFIG = str(REPO / "training" / "configs" / "tiny_test.yaml")


def cli(*args, cwd=REPO, env_extra=None, timeout=240, torchrun: int = 0):
    """Run `python -m training.cli ...` (optionally under torchrun) and return the CompletedProcess."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore", **(env_extra or {}))
    head = [sys.executable]
    if torchrun:
        head += ["-m", "torch.distributed.run", "--nproc-per-node", str(torchrun), "--standalone"]
    cmd = head + ["-m", "training.cli", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)



def overrides(run_dir, data_root, *extra):
    return [f"run_dir={run_dir}", f"data.root={data_root}", "threads=1", *extra]
