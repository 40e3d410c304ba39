"""The real TensorRT Python bindings (tensorrt-cu12-bindings wheels), imported over stub native libraries.

`make trt-bindings` installs the wheels into .trt-bindings/<version>/ (no network at test time). The
`tensorrt.so` extension needs only a few C entry points from libnvinfer / libnvonnxparser /
libnvinfer_plugin (found with `nm -D --undefined-only`); everything else goes through C++ vtables
that are never reached while only classes, enums and docstrings are read. This module compiles stub
libraries that export those symbols (returning NULL) with gcc, imports each release in its own
process and dumps its API surface: per class every attribute, the pybind11 signature lines of each
method and the integer value of each enum member.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BINDINGS = ROOT / ".trt-bindings"
RELEASES = ("10.3.0", "10.13.3.9", "11.4.0.106")

STUB_SYMBOLS = {
    "nvinfer": ["createInferBuilder_INTERNAL", "createInferRefitter_INTERNAL", "createInferRuntime_INTERNAL",
                "getBuilderPluginRegistry", "getPluginRegistry"],
    "nvonnxparser": ["createNvOnnxParser_INTERNAL", "createNvOnnxParserRefitter_INTERNAL", "getNvOnnxParserVersion"],
    "nvinfer_plugin": ["initLibNvInferPlugins"],
}

_DUMP = r"""
import ctypes, inspect, json, sys
for lib in sys.argv[2:]:
    ctypes.CDLL(lib, mode=ctypes.RTLD_GLOBAL)  # found by soname when tensorrt.so is loaded
sys.path.insert(0, sys.argv[1])
import tensorrt as trt
api = {"__version__": trt.__version__, "classes": {}, "module": sorted(n for n in dir(trt) if not n.startswith("__"))}
for name in api["module"]:
    obj = getattr(trt, name)
    if not inspect.isclass(obj):
        continue
    entry = {"attrs": sorted(dir(obj)), "signatures": {}, "members": {}}
    members = getattr(obj, "__members__", None)
    if isinstance(members, dict):
        entry["members"] = {k: int(v) for k, v in members.items()}
    for attr in entry["attrs"]:
        if attr.startswith("__") and attr != "__init__":
            continue
        raw = inspect.getattr_static(obj, attr, None)
        doc = getattr(raw, "__doc__", None) or ""
        kind = "property" if isinstance(raw, property) or type(raw).__name__ == "property" else "other"
        if callable(raw) and not isinstance(raw, property):
            kind = "method"
        lines = [l.strip() for l in doc.splitlines() if l.strip().startswith((attr + "(", "1. " + attr + "(",
                 "2. " + attr + "(", "3. " + attr + "("))]
        entry["signatures"][attr] = {"kind": kind, "lines": [l.split(". ", 1)[-1] if l[0].isdigit() else l
                                                             for l in lines]}
    api["classes"][name] = entry
print(json.dumps(api))
"""


def available() -> list[str]:
    """Releases installed under .trt-bindings/."""
    return [v for v in RELEASES if (BINDINGS / v / "tensorrt_bindings" / "tensorrt.so").is_file()]


def build_stubs(version: str, out: Path) -> list[Path]:
    """Stub lib<name>.so.<major> files exporting STUB_SYMBOLS, compiled with gcc into `out`."""
    major = version.split(".")[0]
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        raise RuntimeError("gcc is needed to build the TensorRT stub libraries")
    out.mkdir(parents=True, exist_ok=True)
    libs = []
    for lib, symbols in STUB_SYMBOLS.items():
        src = out / f"{lib}.c"
        src.write_text("".join(f"void *{s}(void) {{ return 0; }}\n" for s in symbols))
        so = out / f"lib{lib}.so.{major}"
        subprocess.run([gcc, "-shared", "-fPIC", f"-Wl,-soname,lib{lib}.so.{major}", "-o", str(so), str(src)],
                       check=True, capture_output=True)
        libs.append(so)
    return libs


def package_dir(version: str, out: Path) -> Path:
    """A folder where `import tensorrt` finds release `version` (the wheel names it tensorrt_bindings)."""
    pkg = out / "site"
    pkg.mkdir(parents=True, exist_ok=True)
    link = pkg / "tensorrt"
    if not link.exists():
        link.symlink_to(BINDINGS / version / "tensorrt_bindings", target_is_directory=True)
    return pkg


def dump_api(version: str, work: Path) -> dict:
    """The API surface of the real bindings of `version` (see module docstring)."""
    libs = build_stubs(version, work / "stubs")
    site = package_dir(version, work)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", _DUMP, str(site), *map(str, libs)], capture_output=True,
                          text=True, env=env, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"importing TensorRT {version} bindings failed: {proc.stderr.strip()[-800:]}")
    return json.loads(proc.stdout)
