"""Synthetic RGB-D engine: seeded procedural scenes, a moderngl/EGL renderer and an exact numpy ray caster.

    from . import SceneSampler, GLRenderer, RayRenderer, render_frames
    sampler = SceneSampler(seed=0, domain="labeled")
    scene = sampler.scene(0)                       # JSON-serialisable dict
    camera = sampler.camera(scene, view=0, height=256, width=256)
    frame = GLRenderer().render(scene, camera)     # rgb, depth (planar z, inf = sky), valid, K, pose
"""
from .frame import Frame
from .gl_renderer import GLRenderer, egl_available
from .ray_renderer import RayRenderer
from .scene import GENERATOR_VERSION, SceneSampler
from .stream import degrade, frame_id, make_renderer, render_frames, render_views, to_sample

__all__ = [
    "Frame", "GLRenderer", "RayRenderer", "SceneSampler", "GENERATOR_VERSION", "egl_available", "degrade",
    "frame_id", "make_renderer", "render_frames", "render_views", "to_sample",
]
