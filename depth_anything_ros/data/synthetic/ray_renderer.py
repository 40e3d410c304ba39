"""Exact numpy ray caster: the test oracle for GLRenderer and the no-GL fallback."""
from __future__ import annotations

import functools

import numpy as np

from . import geometry
from .frame import NEAR, Frame, camera_arrays, camera_rays
from .textures import texture_pool

PROXY_SCALE, PROXY_PAD = 1.02, 0.02  # the GL proxy box around a primitive; also bounds the ray-cast rectangle


def proxy_corners(prim: dict) -> np.ndarray:
    """The 8 world corners of the box that encloses a primitive (with a margin)."""
    half = np.asarray(prim["half"]) * PROXY_SCALE + PROXY_PAD
    signs = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], np.float64)
    return np.asarray(prim["center"]) + (signs * half) @ np.asarray(prim["R"]).T


def screen_rect(prim: dict, K: np.ndarray, T: np.ndarray, h: int, w: int):
    """Pixel rectangle (v0, v1, u0, u1) that holds every ray able to hit `prim`, or None."""
    pc = (proxy_corners(prim) - T[:3, 3]) @ T[:3, :3]
    z = pc[:, 2]
    if np.all(z <= 0.0):
        return None
    if np.any(z < NEAR):
        return 0, h, 0, w
    u = K[0, 0] * pc[:, 0] / z + K[0, 2]
    v = K[1, 1] * pc[:, 1] / z + K[1, 2]
    u0, u1 = max(int(np.floor(u.min())) - 1, 0), min(int(np.ceil(u.max())) + 2, w)
    v0, v1 = max(int(np.floor(v.min())) - 1, 0), min(int(np.ceil(v.max())) + 2, h)
    if u0 >= u1 or v0 >= v1:
        return None
    return v0, v1, u0, u1


@functools.lru_cache(maxsize=4)
def _pyramid(pool: str) -> tuple:
    """Mip levels of a pool as float32 (N, r, r, 3), rows flipped so row 0 is texture v = 0 (as in GL)."""
    tex = texture_pool(pool)[:, ::-1].astype(np.float32) / 255.0
    levels = [tex]
    while levels[-1].shape[1] > 1:
        t = levels[-1]
        levels.append(0.25 * (t[:, 0::2, 0::2] + t[:, 1::2, 0::2] + t[:, 0::2, 1::2] + t[:, 1::2, 1::2]))
    return tuple(levels)


def _bilinear(img: np.ndarray, layer: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Bilinear sample with wrap-around (GL_REPEAT); texel i has its centre at (i + 0.5) / r."""
    r = img.shape[1]
    x, y = uv[:, 0] * r - 0.5, uv[:, 1] * r - 0.5
    x0, y0 = np.floor(x), np.floor(y)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    x0, y0 = x0.astype(np.int64) % r, y0.astype(np.int64) % r
    x1, y1 = (x0 + 1) % r, (y0 + 1) % r
    return ((img[layer, y0, x0] * (1 - fx) + img[layer, y0, x1] * fx) * (1 - fy)
            + (img[layer, y1, x0] * (1 - fx) + img[layer, y1, x1] * fx) * fy)


class RayRenderer:
    """Renders a scene spec by casting one ray per pixel centre against the analytic primitives.

    Depth is exact (float64 intersection, stored as float32 planar z). Shading matches GLRenderer up to
    texture filtering (nearest mip level + bilinear here, trilinear in GL).
    """

    name = "ray"

    def render(self, scene: dict, camera: dict) -> Frame:
        K, T, h, w = camera_arrays(camera)
        origin, dirs = camera_rays(camera)
        best_t = np.full((h, w), np.inf)
        best_i = np.full((h, w), -1, np.int64)
        prims = scene["primitives"]
        for i, prim in enumerate(prims):
            rect = screen_rect(prim, K, T, h, w)
            if rect is None:
                continue
            v0, v1, u0, u1 = rect
            t = geometry.intersect(prim, origin, dirs[v0:v1, u0:u1].reshape(-1, 3)).reshape(v1 - v0, u1 - u0)
            bt, bi = best_t[v0:v1, u0:u1], best_i[v0:v1, u0:u1]
            closer = t < bt
            bt[closer] = t[closer]
            bi[closer] = i
        hit = np.isfinite(best_t)
        flat_dirs = dirs.reshape(-1, 3)
        rgb = np.zeros((h * w, 3))
        light = scene["light"]
        miss = ~hit.reshape(-1)
        rgb[miss] = geometry.sky(light, flat_dirs[miss])
        hi = hit.reshape(-1)
        if hi.any():
            t = best_t.reshape(-1)[hi]
            d = flat_dirs[hi]
            n, uv, layer, tint, uvs = geometry.surface(prims, best_i.reshape(-1)[hi], origin, d, t)
            albedo = self._texture(scene["texture_pool"], layer, uv, uvs, t, n, d, K[0, 0]) * tint
            p = origin + t[:, None] * d
            rgb[hi] = geometry.shade(light, albedo, n, p, t * np.linalg.norm(d, axis=-1))
        depth = np.where(hit, best_t, np.inf).astype(np.float32)
        return Frame(rgb=geometry.tone(rgb, light["exposure"]).reshape(h, w, 3), depth=depth, valid=hit,
                     K=K, pose=T, renderer=self.name)

    @staticmethod
    def _texture(pool, layer, uv, uvs, t, n, d, fx):
        levels = _pyramid(pool)
        res = levels[0].shape[1]
        cos = np.abs(np.sum(n * d, -1)) / np.linalg.norm(d, axis=-1)
        # texels per pixel = metres per pixel / metres per repeat * texels per repeat (foreshortened)
        footprint = (t / fx) / uvs * res / np.maximum(cos, 0.25)
        lod = np.clip(np.round(np.log2(np.maximum(footprint, 1.0))), 0, len(levels) - 1).astype(int)
        out = np.zeros((len(t), 3))
        for L in np.unique(lod):
            m = lod == L
            out[m] = _bilinear(levels[L], layer[m], uv[m])
        return out
