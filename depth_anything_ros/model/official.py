"""The officially released checkpoints: what their file names imply, and where to get them.

A known official file name fills in what the `.pth` itself does not record (encoder, version, kind,
max_depth). When such a file is not on disk, `resolve_checkpoint` fetches it from the model hub if
`huggingface_hub` is installed and the machine is online; otherwise the error says which file to put where.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

_SIZES = {"vits": "Small", "vitb": "Base", "vitl": "Large"}


@dataclass(frozen=True)
class OfficialCheckpoint:
    repo: str
    filename: str
    encoder: str
    version: str
    kind: str = "relative"
    max_depth: float | None = None
    training_focal: float | None = None  # metric releases: focal length (px) at the network input in training

    @property
    def url(self) -> str:
        return f"https://huggingface.co/{self.repo}/blob/main/{self.filename}"


def _network_focal(fx: float, fy: float, size_hw: tuple[int, int], net_hw: tuple[int, int]) -> float:
    return 0.5 * (fx * net_hw[1] / size_hw[1] + fy * net_hw[0] / size_hw[0])


# Inferred, not published: the training frames' focal length at the network input. V2 metric training resizes
# keep-aspect `lower_bound` to 518 with sides rounded to multiples of 14 (Hypersim 768x1024 -> 518x686, Virtual
# KITTI 2 375x1242 -> 518x1722), then random-crops 518x518, which keeps the focal. Hypersim: fx = fy = 886.81 px
# at 1024x768 (60 deg horizontal FOV); Virtual KITTI 2: fx = fy = 725.0 px at 1242x375. See docs/scale.md.
TRAINING_FOCAL = {"hypersim": round(_network_focal(886.81, 886.81, (768, 1024), (518, 686)), 1),
                  "vkitti": round(_network_focal(725.0, 725.0, (375, 1242), (518, 1722)), 1)}


def _table() -> dict[str, OfficialCheckpoint]:
    known = []
    for enc, size in _SIZES.items():
        known.append(OfficialCheckpoint("LiheYoung/Depth-Anything", f"checkpoints/depth_anything_{enc}14.pth", enc, "v1"))
        known.append(OfficialCheckpoint(f"depth-anything/Depth-Anything-V2-{size}",
                                        f"depth_anything_v2_{enc}.pth", enc, "v2"))
        for scene, depth in (("hypersim", 20.0), ("vkitti", 80.0)):
            known.append(OfficialCheckpoint(f"depth-anything/Depth-Anything-V2-Metric-{scene.title().replace('Vkitti', 'VKITTI')}-{size}",
                                            f"depth_anything_v2_metric_{scene}_{enc}.pth", enc, "v2", "metric", depth,
                                            TRAINING_FOCAL[scene]))
    return {Path(c.filename).name: c for c in known}


OFFICIAL_CHECKPOINTS = _table()


def official_checkpoint(path: str | Path) -> OfficialCheckpoint | None:
    """The official release whose file name `path` carries, if any."""
    return OFFICIAL_CHECKPOINTS.get(Path(path).name)


def resolve_checkpoint(path: str | Path) -> Path:
    """`path` itself when it exists; for a known official file name not on disk, the hub's cached copy.

    Raises FileNotFoundError with a one-line message saying what to download and where to place it.
    """
    path = Path(path)
    if path.exists():
        return path
    known = official_checkpoint(path)
    if known is None:
        raise FileNotFoundError(f"{path}: no such file or directory")
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        reason = "huggingface_hub is not installed"
    else:
        try:
            return Path(hf_hub_download(known.repo, known.filename, repo_type=_repo_type(known)))
        except Exception as exc:  # offline, hub unreachable, not in the cache
            reason = f"{type(exc).__name__}"
    raise FileNotFoundError(f"{path}: not on disk and not fetched ({reason}); download {known.url} and place it at {path}")


def _repo_type(known: OfficialCheckpoint) -> str:
    # V1 checkpoints live in the authors' Space, the V2 ones in model repos.
    return "space" if known.repo == "LiheYoung/Depth-Anything" else "model"
