"""A fake `tensorrt` (and `cuda.bindings.runtime`) whose API surface is a real release's.

Built from the API dump of the real bindings (trt_bindings.dump_api): a module-level name, class
attribute or enum member exists in the fake only if it exists in that release, and every method
call is checked against the release's pybind11 signatures (argument count, keyword names, str /
int / bool parameters). So code that touches `BuilderFlag.FP16`, `ILayer.precision` or
`config.int8_calibrator` fails on 11.4 exactly as it would with the real library.

Behaviour (not TensorRT's numbers): a "plan" is a small JSON naming the ONNX file and the profile;
executing it runs that ONNX file in ONNX Runtime, plus `error` (relative) to play a release that
computes wrong output. Device memory is host memory (ctypes.memmove), streams are integers.
"""
from __future__ import annotations

import ctypes
import json
import sys
import types

import numpy as np

PLAN_MAGIC = b"FAKEPLAN"


class Refused(AttributeError):
    pass


def _params(line: str) -> list[tuple[str, str, bool]] | None:
    """[(name, annotation, has_default)] without self, from 'f(self: X, a: int, b: str = 0) -> R'; None = any."""
    inner = line[line.index("(") + 1: line.rindex(")")] if "->" not in line else line[line.index("(") + 1: line.rindex(") ->")]
    if inner.strip() in ("*args, **kwargs",):
        return None
    out, depth, cur = [], 0, ""
    for ch in inner:
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur)
    params = []
    for p in out:
        p = p.strip()
        name, _, rest = p.partition(":")
        ann, eq, _ = rest.partition("=")
        params.append((name.strip(), ann.strip(), bool(eq)))
    return params[1:] if params and params[0][0] == "self" else params


def _type_ok(ann: str, value) -> bool:
    if ann == "str":
        return isinstance(value, str)
    if ann in ("int", "typing.SupportsInt"):
        return isinstance(value, (int, np.integer)) and not isinstance(value, bool) or hasattr(value, "__index__")
    if ann == "bool":
        return isinstance(value, (bool, int, np.bool_))
    return True


def _check_call(where: str, lines: list[str], args: tuple, kwargs: dict) -> None:
    sigs = [_params(l) for l in lines if "(" in l]
    if not sigs or any(s is None for s in sigs if len(sigs) == 1):
        return
    problems = []
    for sig in sigs:
        if sig is None:
            continue
        names = [n for n, _, _ in sig]
        if len(args) > len(sig):
            problems.append(f"{len(args)} positional > {len(sig)}")
            continue
        bound = dict(zip(names, args))
        bad = [k for k in kwargs if k not in names or k in bound]
        if bad:
            problems.append(f"keywords {bad}")
            continue
        bound.update(kwargs)
        missing = [n for n, _, d in sig if not d and n not in bound]
        if missing:
            problems.append(f"missing {missing}")
            continue
        wrong = [n for n, a, _ in sig if n in bound and not _type_ok(a, bound[n])]
        if wrong:
            problems.append(f"wrong types for {wrong}")
            continue
        return
    raise TypeError(f"{where}: call ({len(args)} args, keywords {sorted(kwargs)}) fits no signature of the real "
                    f"release: {lines} ({'; '.join(problems)})")


class Strict:
    """Base of fake classes: public attributes only if the real class has them; calls signature-checked."""

    _real = ""
    _api: dict = {}
    _version = ""

    def __getattribute__(self, name):
        if name.startswith("_"):
            return object.__getattribute__(self, name)
        cls = object.__getattribute__(self, "__class__")
        entry = cls._api["classes"].get(cls._real)
        if entry is None or name not in entry["attrs"]:
            raise Refused(f"TensorRT {cls._version}: {cls._real} has no attribute {name!r}")
        value = object.__getattribute__(self, name)
        sig = entry["signatures"].get(name, {})
        if callable(value) and sig.get("kind") == "method":
            where = f"TensorRT {cls._version}: {cls._real}.{name}"

            def checked(*args, **kwargs):
                _check_call(where, sig["lines"], args, kwargs)
                return value(*args, **kwargs)

            return checked
        return value

    def __setattr__(self, name, value):
        if not name.startswith("_"):
            cls = type(self)
            entry = cls._api["classes"].get(cls._real, {"attrs": []})
            if name not in entry["attrs"]:
                raise Refused(f"TensorRT {cls._version}: {cls._real} has no attribute {name!r}")
        object.__setattr__(self, name, value)


class EnumValue:
    def __init__(self, enum: str, name: str, value: int):
        self._enum, self.name, self.value = enum, name, value

    def __int__(self):
        return self.value

    __index__ = __int__

    def __eq__(self, other):
        return isinstance(other, EnumValue) and (other._enum, other.value) == (self._enum, self.value)

    def __hash__(self):
        return hash((self._enum, self.value))

    def __repr__(self):
        return f"<{self._enum}.{self.name}: {self.value}>"


def _enum(api: dict, name: str) -> type:
    members = api["classes"][name]["members"]
    return type(name, (), {k: EnumValue(name, k, v) for k, v in members.items()})


class FakeError:
    def __init__(self, text):
        self.text = text

    def __str__(self):
        return self.text


def make_fake(api: dict, error: float = 0.0, gpu: tuple[str, int, int] = ("NVIDIA Fake Orin", 8, 7)):
    """(tensorrt module, cuda.bindings.runtime module) faking release `api` (see module docstring)."""
    version = api["__version__"]
    major = int(version.split(".")[0])
    mod = types.ModuleType("tensorrt")
    mod.__version__ = version
    state = {"builds": 0, "executions": 0, "error": error, "device_tag": f"{gpu[0]}:{gpu[1]}.{gpu[2]}"}

    def cls(real: str, body: dict) -> type:
        init = body.get("__init__")
        lines = api["classes"].get(real, {}).get("signatures", {}).get("__init__", {}).get("lines", [])
        if init is not None and lines and real in ("Logger", "Builder", "OnnxParser", "Runtime"):  # user-built
            def checked_init(self, *args, _init=init, **kwargs):
                _check_call(f"TensorRT {version}: {real}()", lines, args, kwargs)
                _init(self, *args, **kwargs)

            body = {**body, "__init__": checked_init}
        return type(f"Fake{real}", (Strict,), {"_real": real, "_api": api, "_version": version, **body})

    enums = {n: _enum(api, n) for n in ("BuilderFlag", "MemoryPoolType", "NetworkDefinitionCreationFlag",
                                         "DataType", "TensorIOMode") if n in api["classes"]}
    float32 = enums["DataType"].FLOAT
    strongly_typed_bit = 1 << int(enums["NetworkDefinitionCreationFlag"].STRONGLY_TYPED)

    def logger_init(self, severity=None):
        self._severity = severity

    severity = type("Severity", (), {k: EnumValue("Severity", k, i) for i, k in
                                     enumerate(["INTERNAL_ERROR", "ERROR", "WARNING", "INFO", "VERBOSE"])})
    Logger = cls("Logger", {"__init__": logger_init})
    for k in ("INTERNAL_ERROR", "ERROR", "WARNING", "INFO", "VERBOSE"):
        if k in api["classes"].get("Logger", {}).get("attrs", []):
            setattr(Logger, k, getattr(severity, k))

    class _HostMemory(bytes):
        pass

    def net_init(self, flags):
        self._flags = int(flags)

    Network = cls("INetworkDefinition", {"__init__": net_init})

    def parser_init(self, network, logger):
        self._network, self._errors = network, []

    def parse_from_file(self, model):
        import onnx

        try:
            onnx.checker.check_model(onnx.load(model))
        except Exception as exc:
            self._errors.append(FakeError(f"ModelImporter: {type(exc).__name__}: {str(exc).splitlines()[0][:100]}"))
            return False
        self._network._onnx = model
        return True

    Parser = cls("OnnxParser", {"__init__": parser_init, "parse_from_file": parse_from_file,
                                "num_errors": property(lambda self: len(self._errors)),
                                "get_error": lambda self, index: self._errors[index]})

    def tc_init(self, data):
        self._data = bytes(data)

    TimingCache = cls("ITimingCache", {"__init__": tc_init,
                                       "serialize": lambda self: _HostMemory(self._data or
                                                                             f"TC:{state['device_tag']}".encode())})

    def profile_init(self):
        self._shapes = {}

    def set_shape(self, input, min, opt, max):
        self._shapes[input] = tuple(tuple(int(v) for v in s) for s in (min, opt, max))

    Profile = cls("IOptimizationProfile", {"__init__": profile_init, "set_shape": set_shape})

    def config_init(self):
        self._pools, self._flags, self._profiles, self._cache = {}, {"TF32"}, [], None

    def set_timing_cache(self, cache, ignore_mismatch):
        if cache._data and not cache._data.startswith(f"TC:{state['device_tag']}".encode()):
            return bool(ignore_mismatch)
        self._cache = cache
        return True

    Config = cls("IBuilderConfig", {
        "__init__": config_init,
        "set_memory_pool_limit": lambda self, pool, pool_size: self._pools.__setitem__(pool.name, int(pool_size)),
        "clear_flag": lambda self, flag: self._flags.discard(flag.name),
        "set_flag": lambda self, flag: self._flags.add(flag.name),
        "add_optimization_profile": lambda self, profile: (self._profiles.append(profile), len(self._profiles) - 1)[1],
        "create_timing_cache": lambda self, serialized_timing_cache: TimingCache(serialized_timing_cache),
        "set_timing_cache": set_timing_cache,
        "get_timing_cache": lambda self: self._cache,
    })

    def builder_init(self, logger):
        self._logger = logger

    def build(self, network, config):
        state["builds"] += 1
        if major == 10 and not network._flags & strongly_typed_bit:
            raise AssertionError("fake: this project builds strongly typed networks only")
        shapes = config._profiles[0]._shapes["image"] if config._profiles else None
        if shapes is None or not hasattr(network, "_onnx"):
            return None
        body = {"onnx": network._onnx, "profile": shapes, "pools": config._pools, "flags": sorted(config._flags),
                "device": state["device_tag"], "version": version}
        return _HostMemory(PLAN_MAGIC + json.dumps(body).encode())

    Builder = cls("Builder", {
        "__init__": builder_init,
        "create_network": lambda self, flags=0: Network(flags),
        "create_builder_config": lambda self: Config(),
        "create_optimization_profile": lambda self: Profile(),
        "build_serialized_network": build,
    })

    def ctx_init(self, engine):
        self._engine, self._shape, self._addr = engine, None, {}

    def set_input_shape(self, name, shape):
        self._shape = tuple(int(v) for v in shape)
        return True

    def get_tensor_shape(self, name):
        if name == "depth":
            return (self._shape[0], self._shape[2], self._shape[3])
        return self._shape

    def execute(self, stream_handle):
        state["executions"] += 1
        n = int(np.prod(self._shape))
        src = np.ctypeslib.as_array((ctypes.c_float * n).from_address(self._addr["image"])).reshape(self._shape)
        out = self._engine._session().run(["depth"], {"image": src.copy()})[0]
        out = (out * (1.0 + state["error"])).astype(np.float32)
        ctypes.memmove(self._addr["depth"], out.ctypes.data, out.nbytes)
        return True

    Context = cls("IExecutionContext", {
        "__init__": ctx_init, "set_input_shape": set_input_shape, "get_tensor_shape": get_tensor_shape,
        "set_tensor_address": lambda self, name, memory: (self._addr.__setitem__(name, int(memory)), True)[1],
        "execute_async_v3": execute,
    })

    def engine_init(self, body):
        self._body, self._sess = body, None

    def session(self):
        import onnxruntime as ort

        if self._sess is None:
            self._sess = ort.InferenceSession(self._body["onnx"], providers=["CPUExecutionProvider"])
        return self._sess

    Engine = cls("ICudaEngine", {
        "__init__": engine_init, "_session": session,
        "num_io_tensors": property(lambda self: 2),
        "get_tensor_name": lambda self, index: ("image", "depth")[index],
        "get_tensor_dtype": lambda self, name: float32,
        "get_tensor_profile_shape": lambda self, name, profile_index: [tuple(s) for s in self._body["profile"]],
        "create_execution_context": lambda self: Context(self),
    })

    def runtime_init(self, logger):
        self._logger = logger

    def deserialize(self, serialized_engine):
        data = bytes(serialized_engine)
        if not data.startswith(PLAN_MAGIC):
            return None
        body = json.loads(data[len(PLAN_MAGIC):])
        if body["version"] != version:
            return None
        return Engine(body)

    Runtime = cls("Runtime", {"__init__": runtime_init, "deserialize_cuda_engine": deserialize})

    names = {"Logger": Logger, "Builder": Builder, "OnnxParser": Parser, "Runtime": Runtime, "float32": float32,
             "IBuilderConfig": Config, "INetworkDefinition": Network, "IOptimizationProfile": Profile,
             "ITimingCache": TimingCache, "ICudaEngine": Engine, "IExecutionContext": Context, **enums}
    for name, value in names.items():
        if name in api["module"]:  # only what the real release exports at module level
            setattr(mod, name, value)
    mod._state = state
    return mod, _fake_cudart(gpu)


def _fake_cudart(gpu):
    rt = types.ModuleType("cuda.bindings.runtime")
    buffers: dict[int, np.ndarray] = {}
    streams = iter(range(1, 1 << 30))
    rt.cudaMemcpyKind = types.SimpleNamespace(cudaMemcpyHostToDevice=1, cudaMemcpyDeviceToHost=2)
    rt.cudaSetDevice = lambda device: (0,)
    rt.cudaGetDeviceProperties = lambda device: (0, types.SimpleNamespace(name=gpu[0].encode(), major=gpu[1],
                                                                          minor=gpu[2]))

    def malloc(size):
        buf = np.zeros(int(size), np.uint8)
        buffers[buf.ctypes.data] = buf
        return 0, buf.ctypes.data

    rt.cudaMalloc = malloc
    rt.cudaFree = lambda ptr: (buffers.pop(int(ptr), None), (0,))[1]
    rt.cudaStreamCreate = lambda: (0, next(streams))
    rt.cudaStreamDestroy = lambda stream: (0,)
    rt.cudaStreamSynchronize = lambda stream: (0,)
    rt.cudaGetErrorString = lambda err: (0, b"fake error")

    def memcpy(dst, src, count, kind, stream):
        ctypes.memmove(int(dst), int(src), int(count))
        return (0,)

    rt.cudaMemcpyAsync = memcpy
    rt._buffers = buffers
    return rt


def install(monkeypatch, api: dict, **kwargs):
    """Put the fakes in sys.modules for the test (monkeypatch undoes it); returns the fake tensorrt."""
    trt, rt = make_fake(api, **kwargs)
    cuda = types.ModuleType("cuda")
    bindings = types.ModuleType("cuda.bindings")
    bindings.runtime = rt
    cuda.bindings = bindings
    for name, module in (("tensorrt", trt), ("cuda", cuda), ("cuda.bindings", bindings),
                         ("cuda.bindings.runtime", rt)):
        monkeypatch.setitem(sys.modules, name, module)
    return trt
