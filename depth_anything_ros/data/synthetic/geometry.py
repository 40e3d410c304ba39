"""Analytic ray-primitive intersection, surface attributes and shading in numpy (float64).

The GLSL in gl_renderer.py implements the same formulas; keep the two in step. Every primitive gives a ray
interval [tn, tf] in its local frame; the ray hits when tn <= tf and tf > EPS_T, at t = tn if tn > EPS_T else tf.
"""
from __future__ import annotations

import numpy as np

from .frame import EPS_T

TYPES = {"box": 0, "ellipsoid": 1, "cylinder": 2}


def _safe(d: np.ndarray) -> np.ndarray:
    return np.where(d == 0.0, 1e-30, d)


def _quadric(o: np.ndarray, d: np.ndarray, half: np.ndarray):
    """Interval of a ray inside the unit quadric sum((x/half)^2) <= 1 (over the given axes)."""
    os_, ds = o / half, d / half
    a = np.sum(ds * ds, -1)
    b = np.sum(os_ * ds, -1)
    c = np.sum(os_ * os_, -1) - 1.0
    disc = b * b - a * c
    sq = np.sqrt(np.maximum(disc, 0.0))
    a = _safe(a)
    tn, tf = (-b - sq) / a, (-b + sq) / a
    miss = disc < 0.0
    return np.where(miss, np.inf, tn), np.where(miss, -np.inf, tf)


def _slab(o: np.ndarray, d: np.ndarray, half: np.ndarray):
    inv = 1.0 / _safe(d)
    t1, t2 = (-half - o) * inv, (half - o) * inv
    return np.minimum(t1, t2), np.maximum(t1, t2)


def intersect(prim: dict, origin: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    """Ray parameter t of the first hit (inf on a miss) for world rays origin + t * dirs, dirs (N, 3)."""
    R = np.asarray(prim["R"], np.float64)
    half = np.asarray(prim["half"], np.float64)
    o = (origin - np.asarray(prim["center"], np.float64)) @ R  # R^T (o - c): local frame
    d = dirs @ R
    kind = prim["type"]
    if kind == "box":
        lo, hi = _slab(o, d, half)
        tn, tf = lo.max(-1), hi.min(-1)
    elif kind == "ellipsoid":
        tn, tf = _quadric(o[None, :], d, half)
    elif kind == "cylinder":
        t0, t1 = _quadric(o[None, :2], d[:, :2], half[:2])
        lo, hi = _slab(o[2], d[:, 2], half[2])
        tn, tf = np.maximum(t0, lo), np.minimum(t1, hi)
    else:
        raise ValueError(f"unknown primitive type {kind!r}")
    hit = (tn <= tf) & (tf > EPS_T)
    return np.where(hit, np.where(tn > EPS_T, tn, tf), np.inf)


def surface(prims: list[dict], idx: np.ndarray, origin: np.ndarray, dirs: np.ndarray, t: np.ndarray):
    """World normals (N, 3, facing the ray), texture coords (N, 2), layer (N,), tint (N, 3) and metres per
    texture repeat (N,) at hits."""
    center = np.array([p["center"] for p in prims])[idx]
    R = np.array([p["R"] for p in prims])[idx]
    half = np.array([p["half"] for p in prims])[idx]
    kind = np.array([TYPES[p["type"]] for p in prims])[idx]
    uvs = np.array([p["uv"] for p in prims])[idx]
    o = np.einsum("nj,nji->ni", origin[None, :] - center, R)
    d = np.einsum("nj,nji->ni", dirs, R)
    q = o + t[:, None] * d
    n_l = np.zeros_like(q)
    uv = np.zeros((len(q), 2))
    rows = np.arange(len(q))

    box = kind == 0
    ratio = np.abs(q) / half
    axis = np.argmax(ratio, -1)
    n_l[box, axis[box]] = np.sign(q[box, axis[box]])
    a_u = np.where(axis == 0, 1, 0)
    a_v = np.where(axis == 2, 1, 2)
    uv_box = np.stack([q[rows, a_u] + half[rows, a_u], q[rows, a_v] + half[rows, a_v]], -1)
    uv[box] = uv_box[box]

    ell = kind == 1
    n_e = q / half**2
    n_l[ell] = n_e[ell]
    ang = np.arctan2(q[:, 1], q[:, 0]) / (2 * np.pi) + 0.5
    pol = np.arccos(np.clip(q[:, 2] / half[:, 2], -1.0, 1.0)) / np.pi
    ring = np.maximum(1.0, np.round(2 * np.pi * 0.5 * (half[:, 0] + half[:, 1]) / uvs))
    vring = np.maximum(1.0, np.round(np.pi * half[:, 2] / uvs))
    uv[ell] = (np.stack([ang * ring, pol * vring], -1) * uvs[:, None])[ell]

    cyl = kind == 2
    rr = np.sqrt((q[:, 0] / half[:, 0]) ** 2 + (q[:, 1] / half[:, 1]) ** 2)
    cap = cyl & (np.abs(q[:, 2]) / half[:, 2] > rr)
    side = cyl & ~cap
    n_l[cap, 2] = np.sign(q[cap, 2])
    n_l[side, 0] = q[side, 0] / half[side, 0] ** 2
    n_l[side, 1] = q[side, 1] / half[side, 1] ** 2
    uv[cap] = (q[:, :2] + half[:, :2])[cap]
    uv[side] = np.stack([ang * ring * uvs, q[:, 2] + half[:, 2]], -1)[side]

    uv = uv / uvs[:, None]
    n_w = np.einsum("nij,nj->ni", R, n_l)
    n_w /= np.linalg.norm(n_w, axis=-1, keepdims=True)
    n_w = np.where((np.sum(n_w * dirs, -1) > 0)[:, None], -n_w, n_w)
    tex = np.array([p["tex"] for p in prims])[idx]
    tint = np.array([p["tint"] for p in prims])[idx]
    return n_w, uv, tex, tint, uvs


def tone(col: np.ndarray, exposure: float) -> np.ndarray:
    """Linear colour -> uint8 (same curve as the shader)."""
    return np.round(np.clip(col * exposure, 0.0, 1.0) ** (1.0 / 1.3) * 255.0).astype(np.uint8)


def shade(light: dict, albedo: np.ndarray, n: np.ndarray, p: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """Linear RGB at hit points p with normals n and albedo, `dist` the Euclidean ray length."""
    color = np.asarray(light["color"], np.float64)
    if light["type"] == "point":
        L = np.asarray(light["position"], np.float64) - p
        r = np.linalg.norm(L, axis=-1)
        ndl = np.maximum(np.sum(n * L, -1) / r, 0.0)
        diff = light["intensity"] * ndl / (1.0 + (r / light["falloff"]) ** 2)
        return albedo * (light["ambient"] + diff[:, None] * color)
    sun = np.asarray(light["direction"], np.float64)
    ndl = np.maximum(n @ sun, 0.0)
    hemi = 0.75 + 0.25 * n[:, 2]
    col = albedo * (light["ambient"] * hemi[:, None] + light["intensity"] * ndl[:, None] * color)
    f = 1.0 - np.exp(-dist / light["fog"])
    return col * (1.0 - f[:, None]) + np.asarray(light["sky_horizon"])[None, :] * f[:, None]


def sky(light: dict, dirs: np.ndarray) -> np.ndarray:
    """Linear sky colour for (unit) world directions."""
    if light["type"] == "point":
        return np.full(dirs.shape, 0.5)
    dn = dirs / np.linalg.norm(dirs, axis=-1, keepdims=True)
    e = np.sqrt(np.clip(dn[:, 2], 0.0, 1.0))[:, None]
    col = np.asarray(light["sky_horizon"]) * (1 - e) + np.asarray(light["sky_zenith"]) * e
    s = np.maximum(dn @ np.asarray(light["direction"]), 0.0)
    return col + (0.6 * s**300 + 0.15 * s**8)[:, None]
