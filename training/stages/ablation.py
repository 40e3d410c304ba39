"""The paper's ablation (V1 Table 9-style) on the synthetic engine, same budget per row.

    python -m training.cli ablation --config training/configs/ablation_vitt.yaml

Rows (each a student trained from scratch for `student.steps` steps with the same images per step;
teacher and pseudo-labels come from the run's earlier stages):
  labeled_only     labeled data only (the labeled batch takes the unlabeled slots too)
  pseudo           + pseudo-labeled unlabeled images, no perturbation
  perturb          + strong perturbations (color jitter, grayscale, blur, CutMix)
  feature_align    + feature alignment to the frozen encoder (tolerance margin 0.85)
Each row reports AbsRel and d1 (zero-shot protocol) on the unlabeled domain's sealed depth and on the
eval set; the table goes to `<run_dir>/<ablation.out>/results.md` and results.json (`ablation.out` defaults to
"ablation"; set it, with another `seed`, to repeat the rows).
"""
from __future__ import annotations

from ..config import replace
from ..engine import summary_table, write_json
from .common import run_dir
from .train_student import train_student

ROWS = {
    "labeled_only": {"use_unlabeled": False},
    "pseudo": {"use_unlabeled": True, "perturb": False, "feature_align": False},
    "perturb": {"use_unlabeled": True, "perturb": True, "feature_align": False},
    "feature_align": {"use_unlabeled": True, "perturb": True, "feature_align": True},
}


def ablation(cfg) -> list[dict]:
    """Train and evaluate every row of `ablation.rows` (default: all four); returns the table rows."""
    out = cfg.ablation.out  # e.g. ablation_seed1 for a repeat with another seed
    rows = []
    for name in cfg.ablation.rows:
        if name not in ROWS:
            raise ValueError(f"ablation.rows: unknown row {name!r}; expected one of {', '.join(ROWS)}")
        s = cfg.student
        change = dict(ROWS[name])
        if name == "labeled_only":
            change["labeled_batch"] = s.labeled_batch + (s.unlabeled_batch or 2 * s.labeled_batch)
        c = replace(cfg, student=change)
        r = train_student(c, stage=f"{out}/{name}")
        rows.append({"row": name, **{k: r.get(k) for k in ("steps", "seconds", "unl_abs_rel", "unl_d1",
                                                             "eval_abs_rel", "eval_d1")}})
        table = summary_table(rows)
        (run_dir(cfg) / out).mkdir(parents=True, exist_ok=True)
        (run_dir(cfg) / out / "results.md").write_text(table + "\n")
        write_json(run_dir(cfg) / out / "results.json", rows)
    print(summary_table(rows))
    return rows
