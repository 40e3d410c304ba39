"""Training command line: one sub-command per stage, all driven by one YAML config.

    python -m training.cli render-data     --config CFG        # synthetic shards, once
    python -m training.cli train-teacher   --config CFG [key.sub=value ...]
    python -m training.cli pseudo-label    --config CFG
    python -m training.cli train-student   --config CFG
    python -m training.cli finetune-metric --config CFG
    python -m training.cli evaluate        --config CFG
    python -m training.cli export          --config CFG
    python -m training.cli ablation        --config CFG
    python -m training.cli finetune        --bag PATH --init MODEL --out DIR ...   # see training/finetune.py

Under torchrun (`python -m torch.distributed.run --nproc-per-node N --standalone -m training.cli ...`)
the training stages run DDP (gloo on CPU, NCCL on GPU) and pseudo-labelling is sharded by rank.
Every stage resumes from `<run_dir>/<stage>/last.pt` (set `<stage>.resume=false` to start over).
"""
from __future__ import annotations

import argparse
import sys


def _stages():
    from .stages.ablation import ablation
    from .stages.common import render_data
    from .stages.evaluate_export import evaluate_stage, export_stage
    from .stages.finetune_metric import finetune_metric
    from .stages.pseudo_label import pseudo_label
    from .stages.train_student import train_student
    from .stages.train_teacher import train_teacher

    return {
        "render-data": render_data, "train-teacher": train_teacher, "pseudo-label": pseudo_label,
        "train-student": train_student, "finetune-metric": finetune_metric, "evaluate": evaluate_stage,
        "export": export_stage, "ablation": ablation,
    }


COMMANDS = ("render-data", "train-teacher", "pseudo-label", "train-student", "finetune-metric", "evaluate",
            "export", "ablation")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.cli", description=__doc__.splitlines()[0])
    p.add_argument("command", choices=COMMANDS, help="a stage (or `finetune --help` for the one-command fine-tune)")
    p.add_argument("--config", required=True, help="YAML config (training/configs/*.yaml)")
    p.add_argument("overrides", nargs="*", help="key.sub=value overrides, e.g. teacher.steps=100")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["finetune"]:  # the one-command path has its own options
        from .finetune import main as finetune_main

        return finetune_main(argv[1:])
    args = build_parser().parse_intermixed_args(argv)
    from .config import ConfigError, load_config

    try:
        cfg = load_config(args.config, args.overrides)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(cfg.threads)
    _stages()[args.command](cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
