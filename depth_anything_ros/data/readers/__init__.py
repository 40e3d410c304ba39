"""Dataset readers: each is a torch-Dataset-compatible sequence of RGBDSample with min_depth, max_depth and
eval_crop attributes. `open_dataset(spec)` builds one from a command-line spec."""
from __future__ import annotations

from .base import DepthDataset, eigen_crop_kitti, eigen_crop_nyu, garg_crop
from .folder import RGBDFolder
from .kitti import KITTIEigen
from .middlebury import MiddleburyMotorcycle
from .nyu import NYUv2Labeled
from .synthetic import SealedDepth, SyntheticShards

__all__ = [
    "DepthDataset", "KITTIEigen", "MiddleburyMotorcycle", "NYUv2Labeled", "RGBDFolder", "RosbagRGBD",
    "SealedDepth", "SyntheticShards", "eigen_crop_kitti", "eigen_crop_nyu", "garg_crop", "open_dataset",
    "DATASET_SPECS",
]

DATASET_SPECS = """dataset specs (NAME[:PATH][,key=value...]):
  synthetic:DIR              synthetic shards (unlabeled shards need ,sealed=1 to expose their depth)
  middlebury                 the Middlebury 2014 Motorcycle frame shipped with scikit-image
  nyu:FILE.mat               NYUv2 labeled .mat (,split=splits.mat or a text file of 1-based indices)
  kitti:DIR                  KITTI Eigen split (,split=FILE, default DIR/eigen_test_files_with_gt.txt; ,depth_root=DIR)
  folder:DIR                 generic RGB-D folder (rgb/, depth/, intrinsics.json)
  rosbag:PATH                rosbag2, sqlite3 or mcap (,rgb=TOPIC ,depth=TOPIC ,lidar=TOPIC ,info=TOPIC
                             ,tolerance=SECONDS ,min_depth=M ,max_depth=M)"""


def __getattr__(name):  # rosbags is imported only when the rosbag reader is used
    if name == "RosbagRGBD":
        from .rosbag import RosbagRGBD

        return RosbagRGBD
    raise AttributeError(name)


def _flag(v: str) -> bool:
    return v.lower() in ("1", "true", "yes", "on")


def open_dataset(spec: str) -> DepthDataset:
    """Build a reader from a spec string (see DATASET_SPECS). Raises ValueError for a malformed spec."""
    head, *opts = spec.split(",")
    name, _, path = head.partition(":")
    kv = {}
    for o in opts:
        k, eq, v = o.partition("=")
        if not eq:
            raise ValueError(f"bad option {o!r} in dataset spec {spec!r} (expected key=value)")
        kv[k.strip()] = v.strip()
    name = name.strip().lower()
    if name != "middlebury" and not path:
        raise ValueError(f"dataset spec {spec!r} needs a path: {name}:PATH")
    if name == "synthetic":
        return SyntheticShards(path, sealed=_flag(kv.get("sealed", "0")))
    if name == "middlebury":
        return MiddleburyMotorcycle()
    if name == "nyu":
        return NYUv2Labeled(path, split_file=kv.get("split"))
    if name == "kitti":
        from pathlib import Path

        split = kv.get("split") or str(Path(path) / "eigen_test_files_with_gt.txt")
        return KITTIEigen(path, split, depth_root=kv.get("depth_root"), kb_crop=_flag(kv.get("kb_crop", "1")))
    if name == "folder":
        return RGBDFolder(path)
    if name == "rosbag":
        from .rosbag import RosbagRGBD

        return RosbagRGBD(path, rgb_topic=kv.get("rgb"), depth_topic=kv.get("depth"), lidar_topic=kv.get("lidar"),
                          info_topic=kv.get("info"), tolerance=float(kv.get("tolerance", 0.02)),
                          min_depth=float(kv.get("min_depth", 1e-3)), max_depth=float(kv.get("max_depth", 80.0)))
    raise ValueError(f"unknown dataset {name!r}\n{DATASET_SPECS}")
