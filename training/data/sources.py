"""The labeled data of a run: any reader through `data.train` / `data.val` sources, or the synthetic shards.

`open_source` applies a source's depth range (pixels outside it become invalid) and K override to every
sample. `split_groups` turns a dataset into train / validation indices that never put neighbouring frames
of one trajectory on both sides: synthetic frames are grouped by scene (all views of a scene on one side),
recorded sequences (rosbag, folder) are cut in time: the last `fraction` of the sequence is validation and
`gap` frames before it are used by neither.
"""
from __future__ import annotations

import numpy as np

from depth_anything_ros.data.readers import SyntheticShards, open_dataset
from depth_anything_ros.data.readers.base import DepthDataset
from depth_anything_ros.data.sample import RGBDSample
from depth_anything_ros.geometry import pose_matrix


def K_matrix(K) -> np.ndarray:
    """[fx, fy, cx, cy] or a 3x3 (nested or flat) list -> float64 3x3."""
    a = np.asarray(K, np.float64).reshape(-1)
    if a.size == 4:
        fx, fy, cx, cy = a
        return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
    if a.size == 9:
        return a.reshape(3, 3)
    raise ValueError(f"K must be fx, fy, cx, cy or a 3x3 matrix, got {K!r}")


class Source(DepthDataset):
    """A reader with a source's overrides: depth range (outside -> invalid) and K; optional index subset.

    `sequence` is True for recorded trajectories (split in time), False for synthetic scenes (split by scene).
    """

    def __init__(self, base, spec: str, min_depth=None, max_depth=None, K=None, index=None):
        self.base, self.spec = base, spec
        self.name = getattr(base, "name", spec)
        self.min_depth = float(min_depth if min_depth is not None else getattr(base, "min_depth", 1e-3))
        self.max_depth = float(max_depth if max_depth is not None else getattr(base, "max_depth", 80.0))
        self.eval_crop = getattr(base, "eval_crop", None)
        self.K = None if K is None else K_matrix(K)
        self.index = list(range(len(base))) if index is None else list(index)
        self.sequence = not isinstance(base, SyntheticShards)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> RGBDSample:
        s = self.base[self.index[self._check_index(i)]]
        valid = s.valid & np.isfinite(s.depth) & (s.depth >= self.min_depth) & (s.depth <= self.max_depth)
        K = self.K if self.K is not None else s.K
        return RGBDSample(image=s.image, depth=np.where(valid, s.depth, 0.0).astype(np.float32), valid=valid,
                          K=K, source=s.source, pose=s.pose, meta=s.meta)

    def group(self, i: int) -> str:
        """Scene id of frame i (synthetic: shard frame id without the view), else the sequence position."""
        if self.sequence:
            return str(i)
        return self.base.ids[self.index[i]].rsplit("_", 1)[0]

    def subset(self, index) -> "Source":
        """The same source restricted to positions `index` of this one."""
        out = Source(self.base, self.spec, self.min_depth, self.max_depth, None, [self.index[i] for i in index])
        out.K = self.K
        return out


def open_source(src) -> Source:
    """A `SourceCfg` -> Source. Rosbag sources take their topics, K, extrinsic, range and tolerance from
    the fields; `kind` keeps only the synthetic scenes of that kind."""
    spec = src.spec
    if spec.split(":", 1)[0].strip().lower() == "rosbag" and "," not in spec:
        from depth_anything_ros.data.readers.rosbag import RosbagRGBD

        kw = {}
        if src.tolerance is not None:
            kw["tolerance"] = src.tolerance
        base = RosbagRGBD(spec.split(":", 1)[1], rgb_topic=src.color_topic, depth_topic=src.depth_topic,
                          info_topic=src.info_topic, lidar_topic=src.points_topic,
                          K=None if src.K is None else K_matrix(src.K),
                          T_cam_lidar=None if src.extrinsic is None else pose_matrix(src.extrinsic),
                          min_depth=src.min_depth if src.min_depth is not None else 1e-3,
                          max_depth=src.max_depth if src.max_depth is not None else 80.0, **kw)
    else:
        base = open_dataset(spec)
    out = Source(base, spec, src.min_depth, src.max_depth, src.K)
    if src.kind and src.kind != "mixed":
        if not isinstance(base, SyntheticShards):
            raise ValueError(f"{spec}: `kind` filters synthetic scenes only")
        out = out.subset([i for i in range(len(out)) if base.meta(out.index[i]).get("kind") == src.kind])
    if not len(out):
        raise ValueError(f"{spec}: no frames")
    return out


def split_groups(ds: Source, fraction: float, gap: int) -> tuple[list[int], list[int], int]:
    """(train positions, validation positions, frames dropped as the gap) for one source."""
    n = len(ds)
    if ds.sequence:
        n_val = int(round(fraction * n))
        start = n - n_val
        train_end = max(0, start - gap)
        return list(range(train_end)), list(range(start, n)), start - train_end
    groups: dict[str, list[int]] = {}
    for i in range(n):
        groups.setdefault(ds.group(i), []).append(i)
    names = sorted(groups)
    n_val = int(round(fraction * len(names)))
    if n_val == 0:
        return list(range(n)), [], 0
    # evenly spread scenes, so validation is not one corner of the seed range
    pick = {names[int(k)] for k in np.linspace(0, len(names) - 1, n_val).round()}
    train = [i for g in names if g not in pick for i in groups[g]]
    val = [i for g in names if g in pick for i in groups[g]]
    return train, val, 0


class Concat(DepthDataset):
    """Several sources as one dataset (frames in source order)."""

    def __init__(self, parts: list):
        self.parts = [p for p in parts if len(p)]
        self.offsets = np.cumsum([0] + [len(p) for p in self.parts])
        self.name = "+".join(p.name for p in self.parts) or "empty"
        self.min_depth = min((p.min_depth for p in self.parts), default=1e-3)
        self.max_depth = max((p.max_depth for p in self.parts), default=80.0)
        self.eval_crop = None

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, i: int) -> RGBDSample:
        i = self._check_index(i)
        k = int(np.searchsorted(self.offsets, i, side="right") - 1)
        return self.parts[k][i - int(self.offsets[k])]


def labeled_sets(cfg, kind: str | None = None, need_val: bool = False):
    """(train dataset, validation dataset or None, info dict) for the labeled stages.

    `data.train` sources when given (validation from `data.val`, else split off each source with
    `data.split_fraction` / `data.split_gap`), else the labeled synthetic shards (scenes of `kind`); the
    synthetic shards are split only when `need_val`. Raises ValueError for an empty train or validation set.
    """
    from ..stages.common import data_dir

    d = cfg.data
    train_src = d.train or []
    if train_src:
        sources = [open_source(s) for s in train_src]
        explicit_val = [open_source(s) for s in d.val]
    else:
        from ..config import SourceCfg

        sources = [open_source(SourceCfg(spec=f"synthetic:{data_dir(cfg, 'labeled')}", kind=kind))]
        explicit_val = []
    train_parts, val_parts, gap = [], list(explicit_val), 0
    for s in sources:
        if explicit_val or not need_val:
            train_parts.append(s)
            continue
        tr, va, g = split_groups(s, d.split_fraction, d.split_gap)
        train_parts.append(s.subset(tr))
        val_parts.append(s.subset(va))
        gap += g
    train = Concat(train_parts)
    val = Concat(val_parts) if val_parts else None
    if need_val and (val is None or not len(val)):
        raise ValueError(f"the validation split of {[s.spec for s in sources]} is empty: too few frames for "
                         f"data.split_fraction={d.split_fraction} and data.split_gap={d.split_gap} (or give data.val)")
    if not len(train):
        raise ValueError(f"no training frames in {[s.spec for s in sources]}")
    info = {"sources": [s.spec for s in sources], "train_frames": len(train),
            "val_frames": len(val) if val is not None else 0, "gap_frames": gap}
    return train, val, info
