"""Synthetic engine: GL renderer vs the exact ray-cast oracle, determinism, domain separation."""
from __future__ import annotations

import json

import numpy as np
import pytest

from depth_anything_ros.data.synthetic import GLRenderer, RayRenderer, SceneSampler, egl_available, render_frames
from depth_anything_ros.data.synthetic.gl_renderer import projection
from depth_anything_ros.data.synthetic.textures import texture_pool

GL_OK, GL_WHY = egl_available()
needs_gl = pytest.mark.skipif(not GL_OK, reason=f"no moderngl EGL context: {GL_WHY}")


def _scenes():
    """Two indoor and two street scenes, two views each, at 64x48."""
    out = []
    for kind in ("indoor", "street"):
        sampler = SceneSampler(7, "labeled", kind)
        for i in range(2):
            scene = sampler.scene(i)
            out += [(scene, sampler.camera(scene, v, 48, 64)) for v in range(2)]
    return out


@needs_gl
def test_gl_matches_ray_oracle():
    gl, ray = GLRenderer(), RayRenderer()
    kinds = set()
    for scene, cam in _scenes():
        a, b = gl.render(scene, cam), ray.render(scene, cam)
        kinds.add(scene["kind"])
        assert a.rgb.shape == b.rgb.shape == (48, 64, 3)
        assert np.array_equal(a.valid, b.valid), f"hit/miss masks differ on {scene['kind']} seed {scene['seed']}"
        dz = np.abs(a.depth[a.valid].astype(np.float64) - b.depth[b.valid])
        assert dz.max() < 1e-4, f"max |dz| {dz.max()} m"
        assert np.all(np.isinf(a.depth[~a.valid]))
        # shading agrees up to texture filtering (trilinear vs nearest-mip bilinear)
        assert np.abs(a.rgb.astype(int) - b.rgb.astype(int)).mean() < 6.0
    assert kinds == {"indoor", "street"}
    assert any((~f.valid).any() for f in [ray.render(s, c) for s, c in _scenes()[4:5]])  # street has sky


def test_ray_oracle_known_plane():
    """A single large box seen straight on: depth is the analytic distance at every pixel centre."""
    scene = SceneSampler(0, "labeled", "indoor").scene(0)
    scene = dict(scene, primitives=[{"type": "box", "center": [0.0, 0.0, 5.5], "R": np.eye(3).tolist(),
                                     "half": [50.0, 50.0, 0.5], "tex": 0, "tint": [1, 1, 1], "uv": 1.0}])
    K = np.array([[40.0, 0, 31.5], [0, 40.0, 23.5], [0, 0, 1]])
    cam = {"K": K.tolist(), "T_world_cam": np.eye(4).tolist(), "width": 64, "height": 48}
    f = RayRenderer().render(scene, cam)
    assert f.valid.all()
    np.testing.assert_allclose(f.depth, 5.0, atol=1e-6)  # planar z, not ray length


def test_half_pixel_projection():
    """OpenCV pixel centre u maps to GL window x = u + 0.5 (so the GL principal point is cx + 0.5)."""
    K = np.array([[50.0, 0, 31.5], [0, 60.0, 23.5], [0, 0, 1]])
    P = projection(K, 64, 48)
    for u, v, z in ((0.0, 0.0, 2.0), (31.5, 23.5, 7.0), (63.0, 47.0, 3.0)):
        X = np.array([(u - K[0, 2]) / K[0, 0] * z, (v - K[1, 2]) / K[1, 1] * z, z, 1.0])
        c = P @ X
        win = (c[:2] / c[3] + 1) / 2 * np.array([64, 48])
        np.testing.assert_allclose(win, [u + 0.5, v + 0.5], atol=1e-9)


def test_scene_determinism_and_json():
    a = SceneSampler(123, "labeled").scene(3)
    b = SceneSampler(123, "labeled").scene(3)
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    assert json.loads(json.dumps(a)) == a
    assert a["seed"] == 126
    ca = SceneSampler(123, "labeled").camera(a, 2, 48, 64)
    assert ca == SceneSampler(123, "labeled").camera(b, 2, 48, 64)
    # domains are separate streams with separate texture pools
    c = SceneSampler(123, "eval").scene(3)
    assert json.dumps(c, sort_keys=True) != json.dumps(a, sort_keys=True)
    assert c["texture_pool"] == "eval"
    assert not np.array_equal(texture_pool("eval"), texture_pool("labeled"))
    # every primitive number is float32-representable (GL and the oracle see the same geometry)
    for p in a["primitives"]:
        for k in ("center", "half", "R"):
            v = np.asarray(p[k], np.float64)
            assert np.array_equal(v, v.astype(np.float32).astype(np.float64))


def test_frame_determinism_ray():
    s1 = list(render_frames("labeled", 5, 2, 24, 32, views_per_scene=2, renderer="ray"))
    s2 = list(render_frames("labeled", 5, 2, 24, 32, views_per_scene=2, renderer="ray"))
    for a, b in zip(s1, s2):
        assert a.source == b.source
        assert np.array_equal(a.image, b.image) and np.array_equal(a.depth, b.depth)


@needs_gl
def test_frame_determinism_gl_and_samples():
    s1 = list(render_frames("unlabeled", 9, 3, 48, 64, views_per_scene=2, renderer="gl"))
    s2 = list(render_frames("unlabeled", 9, 3, 48, 64, views_per_scene=2, renderer="gl"))
    assert [s.source for s in s1] == ["synthetic-unlabeled:u0000009_00", "synthetic-unlabeled:u0000009_01",
                                      "synthetic-unlabeled:u0000010_00"]
    for a, b in zip(s1, s2):
        assert np.array_equal(a.image, b.image) and np.array_equal(a.depth, b.depth)
        assert a.image.dtype == np.uint8 and a.depth.dtype == np.float32 and a.K.shape == (3, 3)
        assert a.pose.shape == (4, 4) and np.all(a.depth[~a.valid] == 0) and np.all(a.depth[a.valid] > 0)
