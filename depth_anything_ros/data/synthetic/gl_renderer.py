"""moderngl (EGL, Mesa llvmpipe on CPU) renderer: the fast default.

Each primitive is drawn as its enclosing proxy box (one instanced draw call). The fragment shader casts the
pixel-centre ray against the analytic primitive in float64, discards misses and writes the exact planar depth
(to an R32F target and, as t / FAR, to gl_FragDepth), so the GL depth matches the numpy ray caster to float32
rounding. The proxy projection maps OpenCV K to GL window coordinates with the half-pixel shift: a pixel
centre u (integer, OpenCV) is window x = u + 0.5, i.e. the GL principal point is (cx + 0.5, cy + 0.5).
Image row v is rendered at window y = v + 0.5, so the read-back rows are already top-to-bottom.
"""
from __future__ import annotations

import os

import numpy as np

from .frame import FAR, NEAR, Frame, camera_arrays
from .geometry import TYPES
from .ray_renderer import PROXY_PAD, PROXY_SCALE
from .textures import texture_pool

_VS = """
#version 450
in vec3 in_pos;
in vec3 i_center; in vec3 i_c0; in vec3 i_c1; in vec3 i_c2; in vec3 i_half; in vec3 i_misc; in vec3 i_tint;
uniform mat4 u_view_proj;
flat out vec3 v_center; flat out vec3 v_c0; flat out vec3 v_c1; flat out vec3 v_c2;
flat out vec3 v_half; flat out vec3 v_misc; flat out vec3 v_tint;
void main() {
    vec3 local = in_pos * (i_half * PROXY_SCALE + PROXY_PAD);
    vec3 w = i_center + mat3(i_c0, i_c1, i_c2) * local;
    gl_Position = u_view_proj * vec4(w, 1.0);
    v_center = i_center; v_c0 = i_c0; v_c1 = i_c1; v_c2 = i_c2; v_half = i_half; v_misc = i_misc; v_tint = i_tint;
}
"""

_COMMON = """
#version 450
uniform dvec3 u_cam_pos;
uniform dmat3 u_R_wc;
uniform dvec4 u_K;           // fx, fy, cx, cy (OpenCV)
uniform int u_sun;           // 0 point light, 1 sun + sky
uniform vec3 u_light_pos; uniform vec3 u_sun_dir; uniform vec3 u_light_color;
uniform float u_intensity; uniform float u_falloff; uniform float u_ambient; uniform float u_fog;
uniform float u_exposure; uniform vec3 u_horizon; uniform vec3 u_zenith;
layout(location = 0) out vec4 out_color;
layout(location = 1) out float out_depth;

dvec3 pixel_ray() {
    // gl_FragCoord is the window position of the pixel centre: OpenCV pixel (u, v) = FragCoord - 0.5
    double u = double(gl_FragCoord.x) - 0.5LF;
    double v = double(gl_FragCoord.y) - 0.5LF;
    return u_R_wc * dvec3((u - u_K.z) / u_K.x, (v - u_K.w) / u_K.y, 1.0LF);
}

vec3 sky_color(vec3 d) {
    if (u_sun == 0) return vec3(0.5);
    vec3 dn = normalize(d);
    float e = sqrt(clamp(dn.z, 0.0, 1.0));
    vec3 col = u_horizon * (1.0 - e) + u_zenith * e;
    float s = max(dot(dn, u_sun_dir), 0.0);
    return col + vec3(0.6 * pow(s, 300.0) + 0.15 * pow(s, 8.0));
}

vec4 tone(vec3 col) {
    return vec4(pow(clamp(col * u_exposure, 0.0, 1.0), vec3(1.0 / 1.3)), 1.0);
}
"""

_FS_SKY = _COMMON + """
void main() {
    out_color = tone(sky_color(vec3(pixel_ray())));
    out_depth = 0.0;
}
"""

_FS_PRIM = _COMMON + """
uniform sampler2DArray u_tex;
flat in vec3 v_center; flat in vec3 v_c0; flat in vec3 v_c1; flat in vec3 v_c2;
flat in vec3 v_half; flat in vec3 v_misc; flat in vec3 v_tint;
const double EPS_T = EPS_T_VALUE;

dvec3 safe(dvec3 d) {
    return dvec3(d.x == 0.0LF ? 1e-30LF : d.x, d.y == 0.0LF ? 1e-30LF : d.y, d.z == 0.0LF ? 1e-30LF : d.z);
}

void quadric2(dvec2 o, dvec2 d, dvec2 h, out double tn, out double tf) {
    dvec2 os = o / h, ds = d / h;
    double a = dot(ds, ds), b = dot(os, ds), c = dot(os, os) - 1.0LF;
    double disc = b * b - a * c;
    double sq = sqrt(max(disc, 0.0LF));
    if (a == 0.0LF) a = 1e-30LF;
    tn = disc < 0.0LF ? 1e300LF : (-b - sq) / a;
    tf = disc < 0.0LF ? -1e300LF : (-b + sq) / a;
}

void main() {
    dvec3 dw = pixel_ray();
    dmat3 R = dmat3(dvec3(v_c0), dvec3(v_c1), dvec3(v_c2));
    dvec3 o = (u_cam_pos - dvec3(v_center)) * R;   // row vector * R = R^T (o - c)
    dvec3 d = dw * R;
    dvec3 h = dvec3(v_half);
    int kind = int(v_misc.x + 0.5);
    double tn, tf;
    if (kind == 0) {
        dvec3 inv = 1.0LF / safe(d);
        dvec3 t1 = (-h - o) * inv, t2 = (h - o) * inv;
        dvec3 lo = min(t1, t2), hi = max(t1, t2);
        tn = max(max(lo.x, lo.y), lo.z);
        tf = min(min(hi.x, hi.y), hi.z);
    } else if (kind == 1) {
        dvec3 os = o / h, ds = d / h;
        double a = dot(ds, ds), b = dot(os, ds), c = dot(os, os) - 1.0LF;
        double disc = b * b - a * c;
        double sq = sqrt(max(disc, 0.0LF));
        tn = disc < 0.0LF ? 1e300LF : (-b - sq) / a;
        tf = disc < 0.0LF ? -1e300LF : (-b + sq) / a;
    } else {
        double t0, t1;
        quadric2(o.xy, d.xy, h.xy, t0, t1);
        double dz = d.z == 0.0LF ? 1e-30LF : d.z;
        double z1 = (-h.z - o.z) / dz, z2 = (h.z - o.z) / dz;
        tn = max(t0, min(z1, z2));
        tf = min(t1, max(z1, z2));
    }
    if (!(tn <= tf && tf > EPS_T)) discard;
    double t = tn > EPS_T ? tn : tf;

    // surface attributes in float (only shading depends on them)
    vec3 q = vec3(o + t * d);
    vec3 hf = v_half;
    float uvs = v_misc.z;
    vec3 nl = vec3(0.0);
    vec2 uv;
    float ang = atan(q.y, q.x) / (2.0 * 3.14159265) + 0.5;
    float ring = max(1.0, round(2.0 * 3.14159265 * 0.5 * (hf.x + hf.y) / uvs));
    if (kind == 0) {
        vec3 r = abs(q) / hf;
        if (r.x >= r.y && r.x >= r.z) { nl.x = sign(q.x); uv = vec2(q.y + hf.y, q.z + hf.z); }
        else if (r.y >= r.z)          { nl.y = sign(q.y); uv = vec2(q.x + hf.x, q.z + hf.z); }
        else                          { nl.z = sign(q.z); uv = vec2(q.x + hf.x, q.y + hf.y); }
        uv /= uvs;
    } else if (kind == 1) {
        nl = q / (hf * hf);
        float pol = acos(clamp(q.z / hf.z, -1.0, 1.0)) / 3.14159265;
        uv = vec2(ang * ring, pol * max(1.0, round(3.14159265 * hf.z / uvs)));
    } else {
        float rr = length(q.xy / hf.xy);
        if (abs(q.z) / hf.z > rr) { nl.z = sign(q.z); uv = (q.xy + hf.xy) / uvs; }
        else { nl.xy = q.xy / (hf.xy * hf.xy); uv = vec2(ang * ring, (q.z + hf.z) / uvs); }
    }
    vec3 dwf = vec3(dw);
    vec3 n = normalize(mat3(v_c0, v_c1, v_c2) * nl);
    if (dot(n, dwf) > 0.0) n = -n;
    vec3 albedo = texture(u_tex, vec3(uv, v_misc.y)).rgb * v_tint;
    vec3 p = vec3(u_cam_pos + t * dw);
    vec3 col;
    if (u_sun == 0) {
        vec3 L = u_light_pos - p;
        float r = length(L);
        float ndl = max(dot(n, L) / r, 0.0);
        float diff = u_intensity * ndl / (1.0 + (r / u_falloff) * (r / u_falloff));
        col = albedo * (u_ambient + diff * u_light_color);
    } else {
        float ndl = max(dot(n, u_sun_dir), 0.0);
        float hemi = 0.75 + 0.25 * n.z;
        col = albedo * (u_ambient * hemi + u_intensity * ndl * u_light_color);
        float f = 1.0 - exp(-float(t) * length(dwf) / u_fog);
        col = col * (1.0 - f) + u_horizon * f;
    }
    out_color = tone(col);
    out_depth = float(t);
    gl_FragDepth = float(t / FAR_VALUE);
}
"""

_FS_QUAD_VS = """
#version 450
in vec2 in_xy;
void main() { gl_Position = vec4(in_xy, 0.0, 1.0); }
"""


def _unit_cube() -> np.ndarray:
    c = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], np.float32)
    faces = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    tris = [c[[a, b, cc, a, cc, d]] for a, b, cc, d in faces]
    return np.concatenate(tris).astype(np.float32)


def projection(K: np.ndarray, width: int, height: int, near: float = NEAR, far: float = FAR) -> np.ndarray:
    """GL clip matrix for an OpenCV camera (x right, y down, z forward); note the cx + 0.5, cy + 0.5."""
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    return np.array([
        [2 * fx / width, 0, 2 * (cx + 0.5) / width - 1, 0],
        [0, 2 * fy / height, 2 * (cy + 0.5) / height - 1, 0],
        [0, 0, (far + near) / (far - near), -2 * far * near / (far - near)],
        [0, 0, 1, 0],
    ])


def egl_available() -> tuple[bool, str]:
    """(True, renderer name) if a moderngl EGL context can be created here, else (False, reason)."""
    try:
        GLRenderer()  # context + shader compile (the shaders need float64 support)
    except Exception as exc:  # noqa: BLE001 - any failure means "no GL here"
        return False, f"{type(exc).__name__}: {exc}".splitlines()[0]
    return True, GLRenderer.context().info.get("GL_RENDERER", "?")


class GLRenderer:
    """Rasterises scene specs with moderngl on an EGL standalone context (shared by all instances)."""

    name = "gl"
    _ctx = None
    _ctx_pid = None
    _ctx_error: Exception | None = None

    @classmethod
    def context(cls):
        """The process's EGL context (created on first use)."""
        if cls._ctx is not None and cls._ctx_pid != os.getpid():
            # Mesa's EGL state does not survive fork(): the child would hang on its first draw
            raise RuntimeError("GL context was created before this process was forked; use the 'spawn' start "
                               "method (DataLoader(multiprocessing_context='spawn')) or render only in workers")
        if cls._ctx is None:
            if cls._ctx_error is not None:
                raise cls._ctx_error
            try:
                import moderngl

                cls._ctx = moderngl.create_standalone_context(backend="egl")
                cls._ctx_pid = os.getpid()
            except Exception as exc:  # noqa: BLE001
                cls._ctx_error = RuntimeError(f"moderngl EGL context unavailable: {exc}")
                raise cls._ctx_error from exc
        return cls._ctx

    def __init__(self):
        import moderngl

        ctx = self.context()
        self.ctx = ctx
        fs = _FS_PRIM.replace("EPS_T_VALUE", "1e-3LF").replace("FAR_VALUE", f"{FAR:.1f}LF")
        vs = _VS.replace("PROXY_SCALE", f"{PROXY_SCALE}").replace("PROXY_PAD", f"{PROXY_PAD}")
        self.prog = ctx.program(vertex_shader=vs, fragment_shader=fs)
        self.sky_prog = ctx.program(vertex_shader=_FS_QUAD_VS, fragment_shader=_FS_SKY)
        self.cube = ctx.buffer(_unit_cube().tobytes())
        self.quad = ctx.buffer(np.array([-1, -1, 3, -1, -1, 3], np.float32).tobytes())
        self.sky_vao = ctx.vertex_array(self.sky_prog, [(self.quad, "2f", "in_xy")])
        self._textures: dict = {}
        self._fbos: dict = {}
        self._scene_key = None
        self._moderngl = moderngl

    def _texture(self, pool: str):
        if pool not in self._textures:
            tex = texture_pool(pool)[:, ::-1]  # row 0 = texture v = 0 (bottom of the image)
            n, r = tex.shape[0], tex.shape[1]
            t = self.ctx.texture_array((r, r, n), 3, np.ascontiguousarray(tex).tobytes())
            t.build_mipmaps()
            t.filter = (self._moderngl.LINEAR_MIPMAP_LINEAR, self._moderngl.LINEAR)
            t.repeat_x = t.repeat_y = True
            self._textures[pool] = t
        return self._textures[pool]

    def _fbo(self, width: int, height: int):
        key = (width, height)
        if key not in self._fbos:
            color = self.ctx.texture((width, height), 4)
            depth = self.ctx.texture((width, height), 1, dtype="f4")
            zbuf = self.ctx.depth_texture((width, height))
            self._fbos[key] = self.ctx.framebuffer(color_attachments=[color, depth], depth_attachment=zbuf)
        return self._fbos[key]

    def _upload(self, scene: dict):
        """Instance buffer for a scene; cached so that several views of one scene upload it once."""
        key = id(scene), scene["seed"], scene["domain"], len(scene["primitives"])
        if key == self._scene_key:
            return
        rows = []
        for p in scene["primitives"]:
            R = np.asarray(p["R"], np.float64)
            rows.append(np.concatenate([p["center"], R[:, 0], R[:, 1], R[:, 2], p["half"],
                                        [TYPES[p["type"]], p["tex"], p["uv"]], p["tint"]]))
        inst = np.asarray(rows, np.float32)
        self.inst = self.ctx.buffer(inst.tobytes())
        self.vao = self.ctx.vertex_array(self.prog, [
            (self.cube, "3f", "in_pos"),
            (self.inst, "3f 3f 3f 3f 3f 3f 3f/i", "i_center", "i_c0", "i_c1", "i_c2", "i_half", "i_misc", "i_tint"),
        ])
        self.n_inst = len(rows)
        self._scene_key = key

    def _set_light(self, prog, light: dict):
        sun = light["type"] == "sun"
        vals = {
            "u_sun": int(sun), "u_light_color": tuple(light["color"]), "u_intensity": light["intensity"],
            "u_ambient": light["ambient"], "u_exposure": light["exposure"],
        }
        if sun:
            vals.update(u_sun_dir=tuple(light["direction"]), u_fog=light["fog"],
                        u_horizon=tuple(light["sky_horizon"]), u_zenith=tuple(light["sky_zenith"]))
        else:
            vals.update(u_light_pos=tuple(light["position"]), u_falloff=light["falloff"])
        for k, v in vals.items():
            if k in prog:
                prog[k].value = v

    def _set_camera(self, prog, K, T):
        for k, v in (("u_cam_pos", tuple(T[:3, 3])), ("u_R_wc", tuple(T[:3, :3].T.reshape(-1))),
                     ("u_K", (K[0, 0], K[1, 1], K[0, 2], K[1, 2]))):
            if k in prog:
                prog[k].value = v

    def render(self, scene: dict, camera: dict) -> Frame:
        K, T, h, w = camera_arrays(camera)
        ctx = self.ctx
        fbo = self._fbo(w, h)
        fbo.use()
        fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
        for prog in (self.prog, self.sky_prog):
            self._set_light(prog, scene["light"])
            self._set_camera(prog, K, T)
        ctx.disable(self._moderngl.DEPTH_TEST | self._moderngl.CULL_FACE)
        self.sky_vao.render(self._moderngl.TRIANGLES)
        self._upload(scene)
        view = np.linalg.inv(T)
        self.prog["u_view_proj"].write((projection(K, w, h) @ view).T.astype("f4").tobytes())
        self._texture(scene["texture_pool"]).use(0)
        self.prog["u_tex"].value = 0
        ctx.enable(self._moderngl.DEPTH_TEST)
        self.vao.render(self._moderngl.TRIANGLES, instances=self.n_inst)
        rgb = np.frombuffer(fbo.read(components=3, attachment=0), np.uint8).reshape(h, w, 3)
        z = np.frombuffer(fbo.read(components=1, attachment=1, dtype="f4"), np.float32).reshape(h, w)
        valid = z > 0.0
        depth = np.where(valid, z, np.inf).astype(np.float32)
        return Frame(rgb=rgb.copy(), depth=depth, valid=valid, K=K, pose=T, renderer=self.name)
