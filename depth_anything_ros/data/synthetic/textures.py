"""Texture pools for the synthetic engine: procedural (tileable) noise textures plus scikit-image photos.

A pool is a fixed stack of `len(KINDS) * PER_KIND` RGB textures of TEX_RES² pixels. The scene sampler only
picks layer indices (via `layer(kind, j)`), so it never has to generate pixels. Each domain has its own pool:
different procedural seeds and a disjoint set of photos, which keeps the eval set's textures held out.
"""
from __future__ import annotations

import functools

import cv2
import numpy as np

TEX_RES = 256
PER_KIND = 4
KINDS = (
    "wood", "tiles", "carpet", "paint", "stripes", "brick", "ceiling", "object",
    "poster", "asphalt", "sidewalk", "grass", "facade", "bark", "foliage", "car",
)
# photos from scikit-image's bundled data (CC0 / public domain per its docstrings); disjoint per pool
POOL_PHOTOS = {
    "labeled": ("astronaut", "coffee", "chelsea", "rocket"),
    "unlabeled": ("hubble_deep_field", "immunohistochemistry", "retina", "camera"),
    "eval": ("coins", "moon", "page", "cell"),
    "robot": ("clock", "text", "logo", "colorwheel"),
}
POOL_SEEDS = {"labeled": 11, "unlabeled": 22, "eval": 33, "robot": 44}
# the CC0 material photos are split the same way
POOL_MATERIAL = {"labeled": "brick", "unlabeled": "grass", "eval": "gravel", "robot": "gravel"}


def layer(kind: str, j: int) -> int:
    """Layer index of texture `j` (0..PER_KIND-1) of a kind in every pool."""
    return KINDS.index(kind) * PER_KIND + int(j) % PER_KIND


def _fbm(rng: np.random.Generator, res: int, beta: float = 2.0, low: int = 2) -> np.ndarray:
    """Tileable fractal noise in [0, 1]: white noise shaped by 1/f^beta in the Fourier domain."""
    fy = np.fft.fftfreq(res)[:, None] * res
    fx = np.fft.rfftfreq(res)[None, :] * res
    f = np.sqrt(fx**2 + fy**2)
    amp = np.where(f >= low, 1.0 / np.maximum(f, 1.0) ** beta, 0.0)
    spec = (rng.standard_normal(f.shape) + 1j * rng.standard_normal(f.shape)) * amp
    n = np.fft.irfft2(spec, s=(res, res))
    n -= n.min()
    return n / max(n.max(), 1e-12)


def _colorize(v: np.ndarray, c0, c1) -> np.ndarray:
    c0, c1 = np.asarray(c0, float), np.asarray(c1, float)
    return v[..., None] * c1 + (1.0 - v[..., None]) * c0


def _rand_color(rng, lo=0.2, hi=0.9) -> np.ndarray:
    return rng.uniform(lo, hi, 3)


def _grid_lines(res: int, n: int, width: float, offset_rows: bool = False, rows: int | None = None):
    """Mask of mortar/grout lines for an n x rows brick or tile layout (tileable)."""
    rows = rows or n
    y, x = np.mgrid[0:res, 0:res] / res
    ry = (y * rows) % 1.0
    row = np.floor(y * rows)
    xs = x * n + (0.5 * (row % 2) if offset_rows else 0.0)
    rx = xs % 1.0
    line = (ry < width * rows) | (rx < width * n)
    cell = (np.floor(xs) % n) + n * row
    return line, cell


def _make(kind: str, rng: np.random.Generator, res: int) -> np.ndarray:
    n1 = _fbm(rng, res, 2.0)
    n2 = _fbm(rng, res, 1.2, low=8)
    if kind == "wood":
        y, x = np.mgrid[0:res, 0:res] / res
        freq = rng.integers(6, 14)
        v = 0.5 + 0.5 * np.sin(2 * np.pi * (x * freq + 2.0 * n1))
        base = np.array([0.55, 0.35, 0.18]) * rng.uniform(0.6, 1.3)
        img = _colorize(0.7 * v + 0.3 * n2, base * 0.6, np.clip(base * 1.3, 0, 1))
        planks = (np.floor(y * 4) % 4)[..., None] * rng.uniform(-0.05, 0.05, 3)
        img = img + planks
    elif kind == "tiles":
        line, cell = _grid_lines(res, int(rng.choice([2, 4, 8])), 0.015)
        c = _rand_color(rng, 0.4, 0.95)
        var = (np.sin(cell * 12.9898) * 43758.5453) % 1.0
        img = c * (0.85 + 0.15 * var[..., None]) + 0.08 * (n2[..., None] - 0.5)
        img[line] = c * 0.5
    elif kind == "carpet":
        img = _colorize(0.6 * n2 + 0.4 * n1, _rand_color(rng, 0.1, 0.5), _rand_color(rng, 0.3, 0.8))
    elif kind == "paint":
        c = _rand_color(rng, 0.45, 0.95)
        img = c * (0.92 + 0.08 * n1[..., None]) + 0.03 * (n2[..., None] - 0.5)
    elif kind == "stripes":
        x = np.mgrid[0:res, 0:res][1] / res
        n = int(rng.choice([4, 8, 16]))
        v = ((x * n) % 1.0 < rng.uniform(0.3, 0.7)).astype(float)
        img = _colorize(v, _rand_color(rng, 0.4, 0.95), _rand_color(rng, 0.4, 0.95)) * (0.95 + 0.05 * n1[..., None])
    elif kind == "brick":
        line, cell = _grid_lines(res, 4, 0.02, offset_rows=True, rows=8)
        var = (np.sin(cell * 78.233) * 43758.5453) % 1.0
        c = np.array([0.6, 0.28, 0.2]) * rng.uniform(0.7, 1.3, 3)
        img = c * (0.8 + 0.3 * var[..., None]) * (0.85 + 0.15 * n2[..., None])
        img[line] = rng.uniform(0.55, 0.8)
    elif kind == "ceiling":
        img = np.full((res, res, 3), rng.uniform(0.8, 0.97)) + 0.03 * (n2[..., None] - 0.5)
    elif kind == "object":
        img = _colorize(n1, _rand_color(rng), _rand_color(rng))
        if rng.random() < 0.5:
            line, _ = _grid_lines(res, int(rng.choice([2, 4])), 0.03)
            img[line] *= 0.4
    elif kind == "asphalt":
        g = rng.uniform(0.18, 0.35)
        img = np.full((res, res, 3), g) + 0.12 * (n2[..., None] - 0.5) + 0.05 * (n1[..., None] - 0.5)
    elif kind == "sidewalk":
        line, cell = _grid_lines(res, 2, 0.02)
        g = rng.uniform(0.45, 0.7)
        img = np.full((res, res, 3), g) * np.array([1.0, 0.97, 0.93]) + 0.08 * (n2[..., None] - 0.5)
        img[line] *= 0.6
    elif kind == "grass":
        img = _colorize(0.5 * n1 + 0.5 * n2, [0.12, 0.25, 0.05], np.array([0.35, 0.6, 0.15]) * rng.uniform(0.8, 1.2))
    elif kind == "facade":
        wall = _rand_color(rng, 0.35, 0.9)
        img = wall * (0.9 + 0.1 * n1[..., None])
        y, x = np.mgrid[0:res, 0:res] / res
        wx, wy = (x * 2) % 1.0, (y * 2) % 1.0
        win = (wx > 0.25) & (wx < 0.75) & (wy > 0.2) & (wy < 0.7)
        glass = np.array([0.15, 0.2, 0.3]) * rng.uniform(0.6, 1.4) + 0.1 * n2[..., None]
        img = np.where(win[..., None], glass, img)
        frame = ((wx > 0.22) & (wx < 0.78) & (wy > 0.17) & (wy < 0.73)) & ~win
        img[frame] = 0.85
    elif kind == "bark":
        y, x = np.mgrid[0:res, 0:res] / res
        v = 0.5 + 0.5 * np.sin(2 * np.pi * (x * 10 + 1.5 * n1))
        img = _colorize(0.6 * v + 0.4 * n2, [0.15, 0.1, 0.06], [0.4, 0.3, 0.2])
    elif kind == "foliage":
        v = np.clip((n2 - 0.3) * 2.0, 0, 1)
        img = _colorize(0.6 * v + 0.4 * n1, [0.05, 0.15, 0.03], np.array([0.3, 0.55, 0.15]) * rng.uniform(0.8, 1.2))
    elif kind == "car":
        c = _rand_color(rng, 0.05, 0.95)
        img = c * (0.95 + 0.05 * n1[..., None])
    else:  # pragma: no cover - KINDS is closed
        raise ValueError(kind)
    return np.clip(img, 0.0, 1.0)


def _photo(name: str, res: int) -> np.ndarray:
    import skimage.data as skd

    img = getattr(skd, name)()
    if img.ndim == 2:
        img = np.stack([img] * 3, -1)
    img = img[..., :3].astype(np.float64)
    img /= 255.0 if img.max() > 1.0 else 1.0
    return cv2.resize(img, (res, res), interpolation=cv2.INTER_AREA)


@functools.lru_cache(maxsize=4)
def texture_pool(name: str, res: int = TEX_RES) -> np.ndarray:
    """All textures of a pool as uint8 (len(KINDS)*PER_KIND, res, res, 3); row 0 is the top of the image."""
    if name not in POOL_SEEDS:
        raise ValueError(f"unknown texture pool {name!r}; expected one of {sorted(POOL_SEEDS)}")
    rng = np.random.default_rng(POOL_SEEDS[name])
    out = np.zeros((len(KINDS) * PER_KIND, res, res, 3), np.uint8)
    for k, kind in enumerate(KINDS):
        for j in range(PER_KIND):
            if kind == "poster":
                img = _photo(POOL_PHOTOS[name][j], res)
            elif kind == "brick" and j == 0 or kind == "object" and j == 0:
                # a CC0 material photo, re-tinted per primitive by the sampler
                img = _photo(POOL_MATERIAL[name], res) * _rand_color(rng, 0.6, 1.0)
            else:
                img = _make(kind, rng, res)
            out[k * PER_KIND + j] = np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)
    return out
