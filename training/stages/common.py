"""Data, model and evaluation helpers shared by the stages (kept out of the loops so they read top-down)."""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from depth_anything_ros.inference.preprocess import ALIGN_CORNERS, IMAGENET_MEAN, IMAGENET_STD
from depth_anything_ros.model import build_model
from depth_anything_ros.data.readers.synthetic import SyntheticShards

# ---------------------------------------------------------------------------------------------- paths


def run_dir(cfg) -> Path:
    return Path(cfg.run_dir)


def data_dir(cfg, domain: str) -> Path:
    """Shard directory of a domain ("labeled", "unlabeled", "eval"); `data.<domain>.dir` may override it.
    The shard root defaults to `<run_dir>/data`."""
    d = getattr(cfg.data, domain)
    if d.dir:
        return Path(d.dir)
    return Path(cfg.data.root) / domain if cfg.data.root else run_dir(cfg) / "data" / domain


def stage_dir(cfg, stage: str) -> Path:
    return run_dir(cfg) / stage


# ---------------------------------------------------------------------------------------------- data


def render_data(cfg, domains=("labeled", "unlabeled", "eval"), progress: bool | None = None) -> dict:
    """Render the synthetic shards the config names, once (resumable: complete frames are skipped)."""
    from ..data_cli import write_shard

    h, w = cfg.data.size
    progress = cfg.progress if progress is None else progress
    out = {}
    for domain in domains:
        d = getattr(cfg.data, domain)
        if not d.count or d.dir:
            continue
        views = d.views_per_scene or (2 if domain == "eval" else 4)
        out[domain] = write_shard(domain, data_dir(cfg, domain), d.count, int(h), int(w), seed_start=d.seed_start,
                                  views_per_scene=views, kind=d.kind, progress=progress)
    return out


def filter_ids(shards: SyntheticShards, kind: str | None) -> list[int]:
    """Indices of frames whose scene kind is `kind` ("indoor"/"street"), or all for None/"mixed"."""
    if not kind or kind == "mixed":
        return list(range(len(shards)))
    return [i for i in range(len(shards)) if shards.meta(i).get("kind") == kind]


def _crop_box(h: int, w: int, ch: int, cw: int, train: bool) -> tuple[int, int]:
    if not train:
        return (h - ch) // 2, (w - cw) // 2
    return random.randint(0, h - ch), random.randint(0, w - cw)


def _crop_and_flip(arrays, crop, train: bool, hflip: bool) -> list[np.ndarray]:
    """The same crop box (random when `train`, else centred) and flip (p = 0.5) on every array."""
    ch, cw = crop
    y, x = _crop_box(*arrays[0].shape[:2], ch, cw, train)
    out = [a[y:y + ch, x:x + cw] for a in arrays]
    if train and hflip and random.random() < 0.5:
        out = [a[:, ::-1] for a in out]
    return out


def _to_tensor_rgb(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float() / 255.0


class LabeledCrops(torch.utils.data.Dataset):
    """Labeled RGB-D frames (any reader's samples) as training crops: {"image" (3,h,w) in [0,1],
    "depth" (h,w) m, "valid" (h,w)}.

    Frames are first resized (keep aspect) so that they cover `fit` (H, W) when given — the deployment
    network size, so the model trains at the pixels-per-radian it runs at — or else just enough to cover
    the crop; then a random crop of `crop` and a horizontal flip p = 0.5 when `train`.
    """

    def __init__(self, dataset, crop, train: bool = True, hflip: bool = True, fit=None):
        self.data = dataset
        if not len(dataset):
            raise ValueError(f"{getattr(dataset, 'name', 'dataset')}: no frames")
        self.crop, self.train, self.hflip = tuple(crop), train, hflip
        self.fit = tuple(fit) if fit else None

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> dict:
        s = self.data[i]
        if self.fit:
            img, depth, valid = resize_to_cover(s.image, s.depth, s.valid, self.fit)
            s = type(s)(image=img, depth=depth, valid=valid, K=s.K, source=s.source)
        img, depth, valid = _crop_and_flip(fit_to_crop(s.image, s.depth, s.valid, self.crop), self.crop,
                                           self.train, self.hflip)
        return {"image": _to_tensor_rgb(img), "depth": torch.from_numpy(np.ascontiguousarray(depth)),
                "valid": torch.from_numpy(np.ascontiguousarray(valid))}


class UnlabeledCrops(torch.utils.data.Dataset):
    """Unlabeled frames with their teacher pseudo-labels, same crop and flip for both (pixel-aligned).

    Returns {"image" (3,h,w) in [0,1], "pseudo" (h,w) teacher disparity}. The sealed depth is never read.
    """

    def __init__(self, root, pseudo_dir, crop, train: bool = True, hflip: bool = True):
        self.shards = SyntheticShards(root)  # sealed=False: depth comes back empty
        self.pseudo_dir = Path(pseudo_dir)
        self.index = [i for i, fid in enumerate(self.shards.ids) if (self.pseudo_dir / f"{fid}.npy").exists()]
        if not self.index:
            raise FileNotFoundError(f"no pseudo-labels in {self.pseudo_dir}; run `pseudo-label` first")
        self.crop, self.train, self.hflip = tuple(crop), train, hflip

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict:
        j = self.index[i]
        s = self.shards[j]
        pl = np.load(self.pseudo_dir / f"{self.shards.ids[j]}.npy").astype(np.float32)
        img, pl, _ = _crop_and_flip(fit_to_crop(s.image, pl, np.ones(pl.shape, bool), self.crop), self.crop,
                                    self.train, self.hflip)
        return {"image": _to_tensor_rgb(img), "pseudo": torch.from_numpy(np.ascontiguousarray(pl))}


def fit_to_crop(img: np.ndarray, depth: np.ndarray, valid: np.ndarray, crop) -> tuple:
    """Resize (keep aspect) so that the frame covers `crop`; frames already large enough are untouched."""
    h, w = img.shape[:2]
    if max(crop[0] / h, crop[1] / w) <= 1.0:
        return img, depth, valid
    return resize_to_cover(img, depth, valid, crop)


def resize_to_cover(img: np.ndarray, depth: np.ndarray, valid: np.ndarray, size) -> tuple:
    """Resize (keep aspect, up or down) to the smallest size covering `size` (H, W): cubic for RGB,
    nearest for depth and its mask (depth values are never blended across edges)."""
    import cv2

    h, w = img.shape[:2]
    ch, cw = size
    s = max(ch / h, cw / w)
    if abs(s - 1.0) < 1e-9:
        return img, depth, valid
    nh, nw = int(np.ceil(h * s)), int(np.ceil(w * s))
    img = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_CUBIC)
    depth = cv2.resize(depth, (nw, nh), interpolation=cv2.INTER_NEAREST)
    valid = cv2.resize(valid.astype(np.uint8), (nw, nh), interpolation=cv2.INTER_NEAREST).astype(bool)
    return img, depth, valid


def batches(dataset, batch_size: int, seed: int, rank: int = 0, world: int = 1, start_step: int = 0):
    """Endless batches, each rank its own slice of a per-epoch permutation (a DistributedSampler without
    padding). Deterministic in (seed, step): a resumed run continues with the batch it would have drawn."""
    n = len(dataset)
    per_rank = n // world
    nb = per_rank // batch_size
    if nb == 0:
        raise ValueError(f"dataset of {n} items is too small for batch {batch_size} on {world} rank(s)")
    step = start_step
    while True:
        epoch, off = divmod(step, nb)
        g = torch.Generator().manual_seed(seed * 100003 + epoch)
        perm = torch.randperm(n, generator=g)[rank * per_rank:(rank + 1) * per_rank]
        ids = perm[off * batch_size:(off + 1) * batch_size].tolist()
        items = [dataset[i] for i in ids]
        yield {k: torch.stack([it[k] for it in items]) for k in items[0]}
        step += 1


# ---------------------------------------------------------------------------------------------- model


def normalize(img: torch.Tensor) -> torch.Tensor:
    """[0, 1] RGB (B, 3, H, W) -> ImageNet-normalised, as the inference Preprocessor does."""
    mean = torch.tensor(IMAGENET_MEAN, device=img.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=img.device).view(1, 3, 1, 1)
    return (img - mean) / std


def new_model(cfg, kind: str = "relative", max_depth: float | None = None, init_dinov2: bool = True):
    """A fresh network of the config's preset; the encoder from DINOv2 weights when `model.dinov2` is set."""
    m = cfg.model
    model = build_model(m.encoder, m.version, kind, max_depth if kind == "metric" else None)
    if init_dinov2 and m.dinov2:
        from depth_anything_ros.model.checkpoint import load_dinov2_encoder

        load_dinov2_encoder(model, m.dinov2)
    if kind == "relative":
        alive_relu_head(model)
    return model


def alive_relu_head(model) -> None:
    """Set the bias of the relative head's last conv to +1 so its final ReLU starts in the active region.

    With a random head (no DINOv2 features to lift it) the default init can put every output below 0:
    ReLU then returns 0 everywhere, no gradient flows and training never starts. The affine-invariant loss
    ignores the offset, so this changes nothing else.
    """
    conv = model.depth_head.scratch.output_conv2[2]
    torch.nn.init.constant_(conv.bias, 1.0)


def frozen_encoder(cfg, teacher_ckpt: Path):
    """The frozen encoder of feature alignment: DINOv2 when `model.dinov2` is given (the paper), else the
    teacher's encoder (our documented stand-in: no DINOv2 weights exist on these machines)."""
    if cfg.model.dinov2:
        enc, source = new_model(cfg, init_dinov2=True).pretrained, f"DINOv2 {cfg.model.dinov2}"
    else:
        from depth_anything_ros.model.checkpoint import load_checkpoint

        teacher, _ = load_checkpoint(teacher_ckpt)
        enc, source = teacher.pretrained, f"teacher encoder {teacher_ckpt}"
    enc.eval()
    for p in enc.parameters():
        p.requires_grad_(False)
    return enc, source


def final_tokens(encoder, x: torch.Tensor) -> torch.Tensor:
    """Final block's normalised patch tokens (B, N, D) of a DinoVisionTransformer."""
    return encoder.get_intermediate_layers(x, (len(encoder.blocks) - 1,))[-1]


def ddp_wrap(model: torch.nn.Module, dist_info):
    """DDP with find_unused_parameters (refinenet4.resConfUnit1 and mask_token never run in the DPT head)."""
    if not dist_info.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [dist_info.device.index] if dist_info.device.type == "cuda" else None
    return DDP(model, device_ids=ids, find_unused_parameters=True)


@torch.no_grad()
def predict_batch(model, images: list[np.ndarray], size: tuple[int, int] | None = None) -> list[np.ndarray]:
    """Model output for uint8 RGB frames of one shape, each resized back like the official inference (float32 H x W).

    `size` is the network (h, w); None uses the frame size rounded down to multiples of 14. The input is
    resized like the inference Preprocessor (cubic on the float image) and ImageNet-normalised.
    """
    import cv2

    h, w = images[0].shape[:2]
    nh, nw = size or (max(14, h // 14 * 14), max(14, w // 14 * 14))
    arr = [im.astype(np.float32) if (nh, nw) == (h, w) else
           cv2.resize(im.astype(np.float32), (nw, nh), interpolation=cv2.INTER_CUBIC) for im in images]
    x = normalize(torch.from_numpy(np.stack(arr)).permute(0, 3, 1, 2) / 255.0)
    dev = next(model.parameters()).device
    out = model(x.to(dev)).float()
    # back to the frame by the official rule of the model's version (the table the inference resize uses)
    align = ALIGN_CORNERS[model.config.version]
    out = F.interpolate(out[:, None], size=(h, w), mode="bilinear", align_corners=align)[:, 0].cpu().numpy()
    return list(out)


def predict_np(model, rgb: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
    """`predict_batch` for one frame."""
    return predict_batch(model, [rgb], size)[0]


def evaluate_model(model, dataset, kind: str, size=None, min_depth=None, max_depth=None, limit=None,
                   name=None, output_dir=None, align=None) -> dict:
    """`depth_anything_ros.evaluation.evaluate.evaluate` on a torch model (eval mode during the call) at
    network size `size` (H, W); `align` ("median"/"lstsq") fits one scale per image in depth (metric)."""
    from depth_anything_ros.evaluation.evaluate import evaluate

    was = model.training
    model.eval()
    try:
        return evaluate(lambda rgb: predict_np(model, rgb, size), dataset, kind, min_depth=min_depth,
                        max_depth=max_depth, limit=limit, name=name, output_dir=output_dir, progress=False,
                        align=align)
    finally:
        model.train(was)


class Subset:
    """A dataset view with only some indices (keeps name / depth range / crop attributes)."""

    def __init__(self, base, index: list[int]):
        self.base, self.index = base, index
        for a in ("name", "min_depth", "max_depth", "eval_crop"):
            setattr(self, a, getattr(base, a, None))

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int):
        return self.base[self.index[i]]
