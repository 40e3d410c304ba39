"""End-of-stage evaluation rows (synthetic eval set, and the unlabeled domain's sealed depth)."""
from __future__ import annotations

import numpy as np

from depth_anything_ros.data.readers.synthetic import SealedDepth, SyntheticShards
from .common import Subset, data_dir, evaluate_model


class SealedUnlabeled:
    """The unlabeled shard WITH its sealed depth: only for measuring pseudo-label / student quality."""

    name = "synthetic-unlabeled-sealed"
    min_depth, max_depth = 1e-3, 80.0
    eval_crop = None

    def __init__(self, root, limit: int | None = None):
        self.shards = SyntheticShards(root, sealed=True)
        SealedDepth(root)  # raises if there is no sealed depth
        n = len(self.shards)
        # an evenly spread subset keeps evaluation cheap and covers many scenes
        self.index = list(np.linspace(0, n - 1, min(limit or n, n)).round().astype(int)) if n else []

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int):
        return self.shards[self.index[i]]


def eval_relative_summary(cfg, model, prefix: str = "") -> dict:
    """AbsRel / d1 (zero-shot protocol) on the eval shard and on the sealed unlabeled depth, if configured."""
    ev = cfg.evaluation
    limit = ev.limit
    row = {}
    if ev.eval and data_dir(cfg, "eval").exists():
        ds = SyntheticShards(data_dir(cfg, "eval"))
        ds = Subset(ds, list(np.linspace(0, len(ds) - 1, min(limit, len(ds))).round().astype(int)))
        r = evaluate_model(model, ds, "relative", name="synthetic-eval")
        row.update({f"{prefix}eval_abs_rel": _m(r, "abs_rel"), f"{prefix}eval_d1": _m(r, "d1")})
    if ev.unlabeled and data_dir(cfg, "unlabeled").exists():
        r = evaluate_model(model, SealedUnlabeled(data_dir(cfg, "unlabeled"), limit), "relative",
                           name="synthetic-unlabeled")
        row.update({f"{prefix}unl_abs_rel": _m(r, "abs_rel"), f"{prefix}unl_d1": _m(r, "d1")})
    return row


def _m(result: dict, key: str) -> float:
    """A mean metric, NaN when every image was skipped (e.g. a constant prediction cannot be aligned)."""
    return float(result["mean"].get(key, float("nan")))
