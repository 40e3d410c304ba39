"""Rendering streams: renderer selection, photometric degradations and the `render_frames` iterator."""
from __future__ import annotations

import warnings
from typing import Iterator

import cv2
import numpy as np

from ..sample import RGBDSample
from .frame import Frame
from .scene import DOMAIN_CODES, GENERATOR_VERSION, SceneSampler


def make_renderer(name: str = "auto"):
    """"gl" (moderngl/EGL), "ray" (numpy) or "auto" (GL when an EGL context can be made, else ray)."""
    from .gl_renderer import GLRenderer, egl_available
    from .ray_renderer import RayRenderer

    if name == "ray":
        return RayRenderer()
    if name == "gl":
        return GLRenderer()
    if name != "auto":
        raise ValueError(f"unknown renderer {name!r}; expected auto, gl or ray")
    ok, why = egl_available()
    if ok:
        return GLRenderer()
    warnings.warn(f"GL renderer unavailable ({why}); using the numpy ray caster (much slower)", RuntimeWarning)
    return RayRenderer()


def frame_id(domain: str, scene_seed: int, view: int) -> str:
    """Stable frame id, e.g. l0000012_03 for labeled scene 12, view 3."""
    return f"{domain[0]}{int(scene_seed):07d}_{int(view):02d}"


def degrade(rgb: np.ndarray, seed: int) -> np.ndarray:
    """Deterministic photometric degradations for the shifted (unlabeled) domain: gamma, white balance,
    sensor noise, blur and JPEG. Geometry is untouched, so the sealed depth still matches."""
    rng = np.random.default_rng([DOMAIN_CODES["unlabeled"], int(seed), 999])
    x = rgb.astype(np.float32) / 255.0
    x = x ** rng.uniform(0.8, 1.25) * rng.uniform(0.85, 1.15, 3).astype(np.float32)
    if rng.random() < 0.3:
        x = cv2.GaussianBlur(x, (0, 0), float(rng.uniform(0.5, 1.2)))
    x = x + rng.normal(0.0, rng.uniform(0.0, 6.0) / 255.0, x.shape).astype(np.float32)
    out = np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)
    if rng.random() < 0.5:
        ok, buf = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(35, 90))])
        out = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].copy()
    return out


def to_sample(frame: Frame, source: str, meta: dict | None = None) -> RGBDSample:
    """Frame -> RGBDSample (invalid depth set to 0)."""
    depth = np.where(frame.valid, frame.depth, 0.0).astype(np.float32)
    return RGBDSample(image=frame.rgb, depth=depth, valid=frame.valid.copy(), K=frame.K, source=source,
                      pose=frame.pose, meta=dict(meta or {}))


def render_views(domain: str, scene_seed: int, views: list[int], height: int, width: int, renderer,
                 kind: str = "mixed", degrade_rgb: bool | None = None) -> Iterator[tuple[str, Frame, dict]]:
    """(frame id, Frame, meta) for some views of one scene."""
    sampler = SceneSampler(scene_seed, domain, kind)
    scene = sampler.scene(0)
    degrade_rgb = (domain == "unlabeled") if degrade_rgb is None else degrade_rgb
    for view in views:
        cam = sampler.camera(scene, view, height, width)
        frame = renderer.render(scene, cam)
        fid = frame_id(domain, scene_seed, view)
        if degrade_rgb:
            frame.rgb = degrade(frame.rgb, scene_seed * 1000 + view)
        meta = {"id": fid, "domain": domain, "seed": int(scene_seed), "view": int(view), "kind": scene["kind"],
                "generator_version": GENERATOR_VERSION, "renderer": frame.renderer, "degraded": bool(degrade_rgb),
                "K": frame.K.tolist(), "T_world_cam": frame.pose.tolist(), "width": width, "height": height}
        yield fid, frame, meta


def render_frames(domain: str = "labeled", seed_start: int = 0, count: int = 16, height: int = 256,
                  width: int = 256, views_per_scene: int = 4, kind: str = "mixed", renderer="auto",
                  degrade_rgb: bool | None = None) -> Iterator[RGBDSample]:
    """Yield `count` RGBDSamples: scenes seed_start, seed_start+1, ..., `views_per_scene` views each.

    Several views per scene amortise scene generation and upload. For the unlabeled domain the RGB is
    degraded (degrade_rgb=None means "only for unlabeled") but depth is still returned: callers that
    train on it must drop it themselves. `renderer` is a name for `make_renderer` or a renderer object.
    """
    r = make_renderer(renderer) if isinstance(renderer, str) else renderer
    done, seed = 0, int(seed_start)
    while done < count:
        n = min(views_per_scene, count - done)
        for fid, frame, meta in render_views(domain, seed, list(range(n)), height, width, r, kind, degrade_rgb):
            yield to_sample(frame, f"synthetic-{domain}:{fid}", meta)
        done += n
        seed += 1
