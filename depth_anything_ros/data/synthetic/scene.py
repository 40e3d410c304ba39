"""Seeded, deterministic procedural scenes (indoor rooms and outdoor streets) as JSON-serialisable specs.

World frame: z up, metres. A scene spec is a dict:

    {"version", "seed", "domain", "kind": "indoor"|"street", "texture_pool",
     "primitives": [{"type": "box"|"ellipsoid"|"cylinder", "center": [3], "R": 3x3 rows (columns are the
                     local axes in world), "half": [3] (half extents / radii; cylinder axis = local z),
                     "tex": layer, "tint": [3], "uv": metres per texture repeat}, ...],
     "light": {...}, "camera_region": {...}}

Every float in a primitive is rounded to float32 so that the GL renderer (float32 vertex attributes,
float64 maths in the shader) and the numpy ray caster intersect exactly the same geometry.
A camera spec is {"K": 3x3, "T_world_cam": 4x4 (camera x right, y down, z forward), "width", "height"}.
"""
from __future__ import annotations

import math

import numpy as np

from .textures import PER_KIND, layer

GENERATOR_VERSION = "synth-1.0"
DOMAIN_CODES = {"labeled": 101, "unlabeled": 202, "eval": 303, "robot": 404}

# per-domain ranges: the unlabeled stream is a shifted domain (wider FOV, other light), eval matches labeled
_DOMAIN_RANGES = {
    "labeled": dict(fov_indoor=(55, 75), fov_street=(70, 90), ambient=(0.18, 0.35), sun_elev=(15, 70),
                    light_tint=0.08, street_prob=0.5),
    "eval": dict(fov_indoor=(55, 75), fov_street=(70, 90), ambient=(0.18, 0.35), sun_elev=(15, 70),
                 light_tint=0.08, street_prob=0.5),
    "unlabeled": dict(fov_indoor=(45, 90), fov_street=(55, 100), ambient=(0.08, 0.3), sun_elev=(5, 45),
                      light_tint=0.25, street_prob=0.5),
    # a domain no demo stage sees: a small ground robot's wide camera 0.25-0.45 m above the floor, level or
    # looking slightly up, dim tinted light, its own textures (the fine-tuning example of docs/training.md)
    "robot": dict(fov_indoor=(88, 104), fov_street=(90, 110), ambient=(0.05, 0.12), sun_elev=(5, 30),
                  light_tint=0.3, street_prob=0.0, cam_z=(0.25, 0.45), pitch=(-4.0, 8.0)),
}


def _f32(x) -> list | float:
    a = np.asarray(x, dtype=np.float32).astype(np.float64)
    return a.tolist() if a.ndim else float(a)


def rot_z(yaw: float) -> np.ndarray:
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def camera_rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """R_world_cam for a camera looking along heading `yaw` (about world z), tilted up by `pitch`, rolled."""
    f = np.array([math.cos(pitch) * math.cos(yaw), math.cos(pitch) * math.sin(yaw), math.sin(pitch)])
    r = np.cross(f, [0.0, 0.0, 1.0])
    r /= np.linalg.norm(r)
    d = np.cross(f, r)
    c, s = math.cos(roll), math.sin(roll)
    r, d = c * r + s * d, -s * r + c * d
    return np.stack([r, d, f], axis=1)


def intrinsics(width: int, height: int, fov_x_deg: float, pp_jitter=(0.0, 0.0)) -> np.ndarray:
    """OpenCV K (pixel centres at integers) for a horizontal FOV; square pixels."""
    fx = (width / 2.0) / math.tan(math.radians(fov_x_deg) / 2.0)
    cx = width / 2.0 - 0.5 + pp_jitter[0] * width
    cy = height / 2.0 - 0.5 + pp_jitter[1] * height
    return np.array([[fx, 0.0, cx], [0.0, fx, cy], [0.0, 0.0, 1.0]])


class _Builder:
    """Collects primitives for one scene."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.prims: list[dict] = []

    def tex(self, kind: str) -> int:
        return layer(kind, int(self.rng.integers(PER_KIND)))

    def add(self, type_, center, half, kind=None, tex=None, R=None, tint=None, uv=1.0, jitter=0.12):
        tint = np.clip(1.0 + self.rng.uniform(-jitter, jitter, 3), 0.0, 1.5) if tint is None else tint
        self.prims.append({
            "type": type_,
            "center": _f32(center),
            "R": _f32(np.eye(3) if R is None else R),
            "half": _f32(half),
            "tex": int(self.tex(kind) if tex is None else tex),
            "tint": _f32(tint),
            "uv": _f32(uv),
        })


class SceneSampler:
    """Samples scene specs and camera views deterministically from (domain, seed).

    domain: "labeled" (training), "unlabeled" (shifted domain, sealed depth), "eval" (held-out textures),
    "robot" (a low, wide camera in dim rooms with its own textures: the fine-tuning example).
    kind:   "mixed" (half rooms, half streets), "indoor" or "street".
    """

    def __init__(self, seed: int = 0, domain: str = "labeled", kind: str = "mixed"):
        if domain not in DOMAIN_CODES:
            raise ValueError(f"unknown domain {domain!r}; expected labeled, unlabeled, eval or robot")
        if kind not in ("mixed", "indoor", "street"):
            raise ValueError(f"unknown scene kind {kind!r}")
        self.seed, self.domain, self.kind = int(seed), domain, kind
        self.ranges = _DOMAIN_RANGES[domain]

    def _rng(self, seed: int, stream: int) -> np.random.Generator:
        return np.random.default_rng([DOMAIN_CODES[self.domain], int(seed), int(stream)])

    def scene(self, index: int = 0) -> dict:
        """The scene with seed `self.seed + index` (the same seed always gives the same spec)."""
        seed = self.seed + int(index)
        rng = self._rng(seed, 0)
        kind = self.kind
        if kind == "mixed":
            kind = "street" if rng.random() < self.ranges["street_prob"] else "indoor"
        b = _Builder(rng)
        light, region = (self._indoor if kind == "indoor" else self._street)(b)
        return {
            "version": GENERATOR_VERSION, "seed": seed, "domain": self.domain, "kind": kind,
            "texture_pool": self.domain, "primitives": b.prims, "light": light, "camera_region": region,
        }

    __call__ = scene

    # ------------------------------------------------------------------ cameras
    def camera(self, scene: dict, view: int, height: int, width: int) -> dict:
        """Camera `view` of a scene at HxW: FOV, principal point, height and orientation vary per view."""
        rng = self._rng(scene["seed"], 1 + int(view))
        reg = scene["camera_region"]
        fov = rng.uniform(*self.ranges["fov_indoor" if scene["kind"] == "indoor" else "fov_street"])
        K = intrinsics(width, height, fov, rng.uniform(-0.02, 0.02, 2))
        pos = None
        for _ in range(100):
            p = np.array([rng.uniform(*reg["x"]), rng.uniform(*reg["y"]), rng.uniform(*self.ranges.get("cam_z", reg["z"]))])
            if all(math.hypot(p[0] - ox, p[1] - oy) > r + 0.35 or p[2] > top + 0.3
                   for ox, oy, r, top in reg.get("obstacles", [])):
                pos = p
                break
        if pos is None:  # crowded room: stand at the centre line of the free region
            pos = np.array([np.mean(reg["x"]), np.mean(reg["y"]), self.ranges.get("cam_z", reg["z"])[1]])
        if "target" in reg:  # look roughly towards the middle of the room, not at the nearest wall
            yaw = math.atan2(reg["target"][1] - pos[1], reg["target"][0] - pos[0])
            yaw += rng.uniform(-reg["yaw_jitter"], reg["yaw_jitter"])
        elif "yaw" in reg:
            yaw = reg["yaw"] + rng.uniform(-reg["yaw_jitter"], reg["yaw_jitter"])
        else:
            yaw = rng.uniform(-math.pi, math.pi)
        pitch = math.radians(rng.uniform(*self.ranges.get("pitch", reg["pitch"])))
        roll = math.radians(rng.uniform(-3.0, 3.0))
        T = np.eye(4)
        T[:3, :3] = camera_rotation(yaw, pitch, roll)
        T[:3, 3] = pos
        return {"K": K.tolist(), "T_world_cam": T.tolist(), "width": int(width), "height": int(height)}

    # ------------------------------------------------------------------ indoor
    def _indoor(self, b: _Builder):
        rng = b.rng
        wx, wy, h = rng.uniform(3.0, 8.0), rng.uniform(3.0, 8.0), rng.uniform(2.4, 3.2)
        cx, cy = wx / 2, wy / 2
        floor_kind = ["wood", "tiles", "carpet"][rng.integers(3)]
        b.add("box", [cx, cy, -0.1], [cx + 0.3, cy + 0.3, 0.1], floor_kind, uv=rng.uniform(0.6, 2.0))
        b.add("box", [cx, cy, h + 0.1], [cx + 0.3, cy + 0.3, 0.1], "ceiling", uv=rng.uniform(1.0, 3.0))
        wall_kind = ["paint", "stripes", "brick"][rng.integers(3)]
        wall_tex, wall_uv = b.tex(wall_kind), rng.uniform(0.8, 2.5)
        tint = np.clip(1 + rng.uniform(-0.1, 0.1, 3), 0, 1.5)
        for c, hh in (([cx, -0.1, h / 2], [cx + 0.3, 0.1, h / 2 + 0.3]), ([cx, wy + 0.1, h / 2], [cx + 0.3, 0.1, h / 2 + 0.3]),
                      ([-0.1, cy, h / 2], [0.1, cy + 0.3, h / 2 + 0.3]), ([wx + 0.1, cy, h / 2], [0.1, cy + 0.3, h / 2 + 0.3])):
            b.add("box", c, hh, tex=wall_tex, tint=tint, uv=wall_uv)
        # doors and posters sit 1 cm proud of the walls
        walls = [(np.array([0.0, 1.0]), 0.0, 0), (np.array([0.0, -1.0]), wy, 0), (np.array([1.0, 0.0]), 0.0, 1), (np.array([-1.0, 0.0]), wx, 1)]
        for i in range(int(rng.integers(0, 4))):
            n, off, axis = walls[rng.integers(4)]
            is_door = i == 0 and rng.random() < 0.6
            w = rng.uniform(0.8, 1.0) if is_door else rng.uniform(0.4, 1.4)
            hgt = 2.05 if is_door else w * rng.uniform(0.6, 1.4)
            zc = hgt / 2 if is_door else rng.uniform(1.2, 1.8)
            span = wx if axis == 0 else wy
            t = rng.uniform(w / 2 + 0.1, max(w / 2 + 0.11, span - w / 2 - 0.1))
            half = [w / 2, 0.02, hgt / 2] if axis == 0 else [0.02, w / 2, hgt / 2]
            d = off + 0.01 * (1 if off == 0.0 else -1)
            center = [t, d, zc] if axis == 0 else [d, t, zc]
            b.add("box", center, half, "wood" if is_door else "poster", uv=max(w, hgt) * (1.0 if is_door else 1.02),
                  jitter=0.02)
        if rng.random() < 0.5:
            b.add("box", [rng.uniform(1, wx - 1), rng.uniform(1, wy - 1), 0.004], [rng.uniform(0.5, 1.2), rng.uniform(0.4, 1.0), 0.004],
                  "carpet", R=rot_z(rng.uniform(0, math.pi)), uv=rng.uniform(0.5, 1.5))
        obstacles = []
        for _ in range(int(rng.integers(3, 9))):
            r = self._furniture(b, wx, wy, obstacles)
            if r is not None:
                obstacles.append(r)
        for _ in range(int(rng.integers(0, 4))):  # balls on the floor
            rad = rng.uniform(0.08, 0.3)
            x, y = rng.uniform(rad + 0.1, wx - rad - 0.1), rng.uniform(rad + 0.1, wy - rad - 0.1)
            if all(math.hypot(x - ox, y - oy) > r + rad for ox, oy, r, _ in obstacles):
                b.add("ellipsoid", [x, y, rad], [rad] * 3, "object", uv=rad * 2, jitter=0.3)
                obstacles.append([x, y, rad, 2 * rad])
        tint = self.ranges["light_tint"]
        light = {
            "type": "point",
            "position": [rng.uniform(0.3 * wx, 0.7 * wx), rng.uniform(0.3 * wy, 0.7 * wy), h - 0.3],
            "color": (1.0 + rng.uniform(-tint, tint, 3)).tolist(),
            "intensity": float(rng.uniform(1.1, 1.7)),
            "falloff": float(rng.uniform(3.0, 6.0)),
            "ambient": float(rng.uniform(*self.ranges["ambient"])),
            "exposure": float(rng.uniform(0.9, 1.15)),
        }
        region = {"x": [0.5, wx - 0.5], "y": [0.5, wy - 0.5], "z": [1.2, 1.8], "pitch": [-25.0, 5.0],
                  "target": [cx, cy], "yaw_jitter": math.radians(70),
                  "obstacles": [[float(v) for v in o] for o in obstacles]}
        return light, region

    def _furniture(self, b: _Builder, wx: float, wy: float, obstacles: list):
        rng = b.rng
        kind = ["table", "cabinet", "sofa", "cylinder", "shelf"][rng.integers(5)]
        sx, sy = rng.uniform(0.25, 1.0), rng.uniform(0.25, 0.7)
        rad = math.hypot(sx, sy)
        for _ in range(20):
            x, y = rng.uniform(rad + 0.05, max(rad + 0.06, wx - rad - 0.05)), rng.uniform(rad + 0.05, max(rad + 0.06, wy - rad - 0.05))
            if all(math.hypot(x - ox, y - oy) > r + rad for ox, oy, r, _ in obstacles):
                break
        else:
            return None
        R = rot_z(rng.uniform(0, math.pi))
        tex_kind = ["wood", "object", "car", "paint"][rng.integers(4)]
        tex, tint, uv = b.tex(tex_kind), np.clip(1 + rng.uniform(-0.3, 0.3, 3), 0, 1.5), rng.uniform(0.4, 1.2)
        def part(local, half, type_="box"):
            b.add(type_, np.array([x, y, 0.0]) + R @ np.asarray(local), half, tex=tex, tint=tint, R=R, uv=uv)
        if kind == "table":
            top = rng.uniform(0.45, 0.8)
            part([0, 0, top - 0.02], [sx, sy, 0.02])
            for ex in (-1, 1):
                for ey in (-1, 1):
                    part([ex * (sx - 0.05), ey * (sy - 0.05), (top - 0.04) / 2], [0.025, 0.025, (top - 0.04) / 2])
            height = top
            if rng.random() < 0.5:
                r = rng.uniform(0.05, 0.15)
                b.add("ellipsoid", [x, y, top + r], [r] * 3, "object", uv=2 * r, jitter=0.3)
        elif kind == "cabinet":
            height = rng.uniform(0.4, 1.2)
            part([0, 0, height / 2], [sx, sy, height / 2])
        elif kind == "shelf":
            height = rng.uniform(1.4, 2.2)
            part([0, 0, height / 2], [sx, min(sy, 0.25), height / 2])
        elif kind == "sofa":
            height = rng.uniform(0.7, 0.9)
            part([0, 0, 0.22], [sx, sy, 0.22])
            part([0, sy - 0.1, height / 2], [sx, 0.1, height / 2])
        else:
            height = rng.uniform(0.3, 1.2)
            r = min(sx, sy)
            part([0, 0, height / 2], [r, r * rng.uniform(0.7, 1.0), height / 2], "cylinder")
        return [x, y, rad, height]

    # ------------------------------------------------------------------ street
    def _street(self, b: _Builder):
        rng = b.rng
        road = rng.uniform(3.0, 7.5)  # half width
        walk = rng.uniform(1.5, 4.0)
        y0, y1 = -30.0, 230.0
        ym, yh = (y0 + y1) / 2, (y1 - y0) / 2
        b.add("box", [0, ym, -0.5], [90.0, yh, 0.5], "grass", uv=rng.uniform(2, 5))
        b.add("box", [0, ym, 0.0], [road, yh, 0.02], "asphalt", uv=rng.uniform(3, 6), jitter=0.05)
        walk_tex, walk_uv = b.tex("sidewalk"), rng.uniform(1.5, 3.0)
        for s in (-1, 1):
            b.add("box", [s * (road + walk / 2), ym, 0.0], [walk / 2, yh, 0.14], tex=walk_tex, uv=walk_uv, jitter=0.03)
        white = layer("ceiling", 0)
        if rng.random() < 0.8:  # dashed centre line
            step, dash = rng.uniform(8, 12), rng.uniform(2, 4)
            for y in np.arange(-5.0, 160.0, step):
                b.add("box", [0.0, y, 0.0], [0.07, dash / 2, 0.025], tex=white, tint=[1, 1, 1], uv=1.0)
        if rng.random() < 0.6:  # solid edge lines
            for s in (-1, 1):
                b.add("box", [s * (road - 0.3), ym, 0.0], [0.06, yh, 0.025], tex=white, tint=[1, 1, 1], uv=1.0)
        for s in (-1, 1):
            y = y0 + rng.uniform(0, 10)
            facade_uv = rng.uniform(5, 8)
            while y < y1 - 5:
                w, gap = rng.uniform(6, 22), rng.uniform(0, 6) if rng.random() < 0.5 else 0.0
                depth, height = rng.uniform(8, 16), rng.uniform(5, 30)
                setback = rng.uniform(0, 4)
                if rng.random() > 0.12:
                    x = s * (road + walk + setback + depth / 2)
                    b.add("box", [x, y + w / 2, height / 2], [depth / 2, w / 2, height / 2], "facade", uv=facade_uv)
                y += w + gap
            y = rng.uniform(-10, 10)
            while y < 160:  # poles and trees along the kerb
                x = s * (road + walk - rng.uniform(0.4, 0.8))
                if rng.random() < 0.5:
                    hp, rp = rng.uniform(4, 8), rng.uniform(0.06, 0.14)
                    b.add("cylinder", [x, y, hp / 2], [rp, rp, hp / 2], "car", tint=[0.5, 0.5, 0.5], uv=1.0)
                    if rng.random() < 0.5:
                        b.add("box", [x - s * 0.8, y, hp - 0.05], [0.8, 0.05, 0.05], "car", tint=[0.5, 0.5, 0.5])
                else:
                    ht, rt = rng.uniform(1.8, 3.5), rng.uniform(0.1, 0.25)
                    b.add("cylinder", [x, y, ht / 2], [rt, rt, ht / 2], "bark", uv=1.0)
                    cr = rng.uniform(1.0, 2.5)
                    b.add("ellipsoid", [x, y, ht + cr * 0.7], [cr, cr * rng.uniform(0.8, 1.2), cr * rng.uniform(0.8, 1.3)],
                          "foliage", uv=rng.uniform(1.5, 3))
                y += rng.uniform(8, 25)
        for _ in range(int(rng.integers(2, 10))):
            parked = rng.random() < 0.6
            s = -1 if rng.random() < 0.5 else 1
            x = s * (road - 1.2) if parked else s * road / 2
            self._car(b, x, rng.uniform(22, 110), (0.0 if parked else rng.uniform(-0.05, 0.05)) + (math.pi if s < 0 and not parked else 0.0))
        elev, azim = math.radians(rng.uniform(*self.ranges["sun_elev"])), rng.uniform(-math.pi, math.pi)
        tint = self.ranges["light_tint"]
        horizon = np.clip(np.array([0.75, 0.82, 0.9]) + rng.uniform(-0.12, 0.08, 3), 0, 1)
        light = {
            "type": "sun",
            "direction": [math.cos(elev) * math.cos(azim), math.cos(elev) * math.sin(azim), math.sin(elev)],
            "color": (1.0 + rng.uniform(-tint, tint, 3)).tolist(),
            "intensity": float(rng.uniform(0.8, 1.2)),
            "ambient": float(rng.uniform(*self.ranges["ambient"])) + 0.1,
            "sky_horizon": horizon.tolist(),
            "sky_zenith": np.clip(np.array([0.25, 0.45, 0.85]) + rng.uniform(-0.15, 0.15, 3), 0, 1).tolist(),
            "fog": float(rng.uniform(150, 600)),
            "exposure": float(rng.uniform(0.9, 1.15)),
        }
        lane = max(road - 1.0, 0.5)
        region = {"x": [-lane, lane], "y": [0.0, 15.0], "z": [1.4, 1.9], "pitch": [-8.0, 3.0],
                  "yaw": math.pi / 2, "yaw_jitter": math.radians(15)}
        return light, region

    def _car(self, b: _Builder, x: float, y: float, yaw: float):
        rng = b.rng
        R = rot_z(yaw)
        tex, tint = b.tex("car"), np.clip(1 + rng.uniform(-0.2, 0.2, 3), 0, 1.5)
        length, width = rng.uniform(1.9, 2.4), rng.uniform(0.8, 0.95)
        def part(local, half, type_="box", Rl=None, **kw):
            kw.setdefault("tex", tex)
            kw.setdefault("tint", tint)
            b.add(type_, np.array([x, y, 0.0]) + R @ np.asarray(local), half, R=R @ (np.eye(3) if Rl is None else Rl), **kw)
        part([0, 0, 0.75], [width, length, 0.4])
        part([0, -0.2 * length, 1.4], [width * 0.9, length * 0.5, 0.28], tex=layer("facade", 0), tint=[0.3, 0.35, 0.4], uv=20.0)
        axle = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])  # cylinder axis along local x
        for ex in (-1, 1):
            for ey in (-1, 1):
                part([ex * (width - 0.1), ey * (length - 0.55), 0.33], [0.33, 0.33, 0.12], "cylinder", Rl=axle,
                     tex=layer("asphalt", 0), tint=[0.4, 0.4, 0.4])
