"""The TensorRT path against the real 10.3, 10.13 and 11.4 Python bindings (no native library, no GPU).

Oracle: the real `tensorrt-cu12-bindings` wheels (installed by `make trt-bindings` into
.trt-bindings/), imported over gcc-built stub libraries; their classes, enum members and pybind11
signatures are the reference. The build -> cache -> load -> infer path runs against a fake made from
that surface (fake_tensorrt.py), which refuses anything the release lacks, and ONNX Runtime is the
reference of the self-check.
"""
from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from depth_anything_ros.inference import precision as pr
from depth_anything_ros.inference.engines import tensorrt_engine as te
from depth_anything_ros.inference.engines.self_check import SelfCheckError
from depth_anything_ros.inference.engines.tensorrt_cache import read_sidecar
from depth_anything_ros.inference.export import read_onnx_metadata
from depth_anything_ros.inference.preprocess import Preprocessor

from . import fake_tensorrt, trt_bindings
from .conftest import DYNAMIC_EXPORT_SIZE, STATIC_SIZES

RELEASES = trt_bindings.RELEASES
ENGINE_SRC = Path(te.__file__).read_text()

# Every name the TensorRT path uses: module level, then per class.
USED_MODULE = ["Builder", "Logger", "OnnxParser", "Runtime", "MemoryPoolType", "BuilderFlag",
               "NetworkDefinitionCreationFlag", "float32", "__version__"]
USED = {
    "Logger": ["WARNING"],
    "Builder": ["create_network", "create_builder_config", "create_optimization_profile", "build_serialized_network"],
    "OnnxParser": ["parse_from_file", "num_errors", "get_error"],
    "IBuilderConfig": ["set_memory_pool_limit", "clear_flag", "add_optimization_profile", "create_timing_cache",
                       "set_timing_cache", "get_timing_cache"],
    "IOptimizationProfile": ["set_shape"],
    "ITimingCache": ["serialize"],
    "Runtime": ["deserialize_cuda_engine"],
    "ICudaEngine": ["create_execution_context", "num_io_tensors", "get_tensor_name", "get_tensor_dtype",
                    "get_tensor_profile_shape"],
    "IExecutionContext": ["set_input_shape", "get_tensor_shape", "set_tensor_address", "execute_async_v3"],
    "MemoryPoolType": ["WORKSPACE"],
    "BuilderFlag": ["TF32"],
    "NetworkDefinitionCreationFlag": ["STRONGLY_TYPED"],
}
# Weak typing: removed in 11.x, never used by this project.
REMOVED_IN_11 = {"BuilderFlag": ["FP16", "INT8", "PREFER_PRECISION_CONSTRAINTS", "OBEY_PRECISION_CONSTRAINTS"],
                 "ILayer": ["precision", "set_output_type"],
                 "IBuilderConfig": ["int8_calibrator", "set_calibration_profile"]}


@pytest.fixture(scope="session")
def apis(tmp_path_factory):
    found = trt_bindings.available()
    if not found:
        pytest.skip("no TensorRT bindings wheels under .trt-bindings/ (run `make trt-bindings`)")
    root = tmp_path_factory.mktemp("trt")
    return {v: trt_bindings.dump_api(v, root / v) for v in found}


@pytest.fixture(params=RELEASES)
def api(request, apis):
    if request.param not in apis:
        pytest.skip(f"TensorRT {request.param} bindings not installed")
    return apis[request.param]


def test_real_bindings_import_and_say_their_version(apis):
    assert {a["__version__"] for a in apis.values()} == set(apis)


def test_every_name_the_engine_uses_exists_in_each_release(api):
    missing = [n for n in USED_MODULE if n not in api["module"] and n != "__version__"]
    for cls, names in USED.items():
        entry = api["classes"][cls]
        missing += [f"{cls}.{n}" for n in names if n not in entry["attrs"] and n not in entry["members"]]
    assert missing == [], f"TensorRT {api['__version__']}"
    unsigned = [f"{cls}.{n}" for cls, names in USED.items() for n in names
                if api["classes"][cls]["signatures"].get(n, {}).get("kind") == "method"
                and not api["classes"][cls]["signatures"][n]["lines"]]
    assert unsigned == []  # every method call the fake checks has the release's signature to check it against
    for cls, names in USED.items():
        for name in names:
            assert re.search(rf"\b{name}\b", ENGINE_SRC), f"{cls}.{name} listed but unused: keep the list true"


def test_weak_typing_api_is_gone_in_11_and_absent_from_the_engine(api):
    major = int(api["__version__"].split(".")[0])
    for cls, names in REMOVED_IN_11.items():
        entry = api["classes"][cls]
        present = [n for n in names if n in entry["attrs"] or n in entry["members"]]
        assert present == ([] if major >= 11 else present) and (major >= 11 or present), (cls, present)
    for calibrator in ("IInt8EntropyCalibrator2", "IInt8MinMaxCalibrator"):
        assert (calibrator in api["module"]) == (major < 11)
        assert calibrator not in ENGINE_SRC
    for pattern in (r"BuilderFlag\.(FP16|INT8|BF16|PREFER_PRECISION|OBEY_PRECISION)", r"\.set_output_type\b",
                    r"\.int8_calibrator\b", r"\.set_calibration_profile\b", r"\.get_layer\b"):
        assert not re.search(pattern, ENGINE_SRC), pattern  # (the fake has no ILayer at all)


def test_signatures_of_the_calls_the_engine_makes(api):
    sigs = api["classes"]
    line = sigs["IBuilderConfig"]["signatures"]["set_timing_cache"]["lines"][0]
    assert "cache: tensorrt.tensorrt.ITimingCache, ignore_mismatch: bool) -> bool" in line
    assert "-> bool" in sigs["OnnxParser"]["signatures"]["parse_from_file"]["lines"][0]
    assert "input: str, min: tensorrt.tensorrt.Dims, opt: tensorrt.tensorrt.Dims, max: tensorrt.tensorrt.Dims" in \
        sigs["IOptimizationProfile"]["signatures"]["set_shape"]["lines"][0]
    assert "-> bool" in sigs["IExecutionContext"]["signatures"]["execute_async_v3"]["lines"][0]


def test_the_fake_refuses_what_a_release_lacks(apis, monkeypatch):
    if "11.4.0.106" not in apis or "10.13.3.9" not in apis:
        pytest.skip("needs the 10.13 and 11.4 bindings")
    new = fake_tensorrt.make_fake(apis["11.4.0.106"])[0]
    old = fake_tensorrt.make_fake(apis["10.13.3.9"])[0]
    assert int(old.BuilderFlag.FP16) == apis["10.13.3.9"]["classes"]["BuilderFlag"]["members"]["FP16"]
    with pytest.raises(AttributeError):
        new.BuilderFlag.FP16
    config = new.Builder(new.Logger(new.Logger.WARNING)).create_builder_config()
    with pytest.raises(AttributeError, match="int8_calibrator"):
        config.int8_calibrator = object()
    with pytest.raises(TypeError, match="set_timing_cache"):
        config.set_timing_cache(config.create_timing_cache(b""))  # a missing argument
    with pytest.raises(TypeError, match="parse_from_file"):
        new.OnnxParser(new.Builder(new.Logger()).create_network(0), new.Logger()).parse_from_file(Path("m.onnx"))
    # the engine's build, with FP16 put back in, fails on 11.4
    trt = fake_tensorrt.install(monkeypatch, apis["11.4.0.106"])
    monkeypatch.setattr(te, "_network_flags", lambda t: int(t.BuilderFlag.FP16))
    with pytest.raises(AttributeError, match="FP16"):
        te.build_plan("m.onnx", ((1, 3, 14, 14),) * 3, te.builder_options())
    assert trt._state["builds"] == 0


# ---------------------------------------------------------------------------------------------- end to end


@pytest.fixture(autouse=True)
def one_photo_self_check(request, monkeypatch):
    """Self-checks on one photo to keep the suite fast (test_build_cache_load_infer keeps all four)."""
    if "build_cache_load_infer" not in request.node.name:
        from depth_anything_ros.inference.engines import self_check

        photos = pr.photos()[:1]
        monkeypatch.setattr(self_check, "photos", lambda: photos)


@pytest.fixture(scope="module")
def model_files(tmp_path_factory, static_onnx):
    """fp32 and fp16 files of the metric tiny model, side by side (the fp16 one names its fp32 source)."""
    root = tmp_path_factory.mktemp("trt_models")
    fp32 = root / "m.onnx"
    fp32.write_bytes(Path(static_onnx[STATIC_SIZES[0]][0]).read_bytes())
    fp16 = root / "m_fp16.onnx"
    pr.make_variant(fp32, fp16, "fp16", pr.photos()[:1], timing_repeats=0)
    return {"fp32": fp32, "fp16": fp16}


def test_build_cache_load_infer(api, monkeypatch, tmp_path, model_files):
    trt = fake_tensorrt.install(monkeypatch, api)
    onnx_path = model_files["fp16"]
    engine = te.TensorRTEngine.from_path(onnx_path, cache_dir=tmp_path)
    batch = Preprocessor(STATIC_SIZES[0])(pr.photos()[1][1])
    out = engine.infer(batch)
    ref = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).run(["depth"], {"image": batch})[0]
    np.testing.assert_array_equal(out, ref)  # the data path (copies, shapes, addresses) is exact
    assert engine.input_size == STATIC_SIZES[0] and engine.describe()["precision"] == "fp16"
    plans = list(tmp_path.glob("*.plan"))
    side = read_sidecar(plans[0])
    (record,) = side.self_checks.values()
    assert record["ok"] and record["precision"] == "fp16" and len(record["figures"]) == 4
    assert record["reference"].startswith("m.onnx")  # checked against the fp32 source
    assert side.builder["profile"] == [[1, 3, *STATIC_SIZES[0]]] * 3
    assert list(tmp_path.glob("timing-*.cache")) and not list(tmp_path.glob(".*tmp"))
    engine.close()
    builds, runs = trt._state["builds"], trt._state["executions"]
    te.TensorRTEngine.from_path(onnx_path, cache_dir=tmp_path).close()  # cached, already self-checked here
    assert (trt._state["builds"], trt._state["executions"]) == (builds, runs)


def test_every_key_ingredient_invalidates_the_plan(apis, monkeypatch, tmp_path, model_files, dynamic_onnx):
    release = next(iter(apis))
    base = {"onnx": model_files["fp32"], "input_size": None, "max_batch": 1, "workspace_gb": 1.0, "tf32": True}
    variants = {
        "onnx": {"onnx": model_files["fp16"]},
        "workspace": {"workspace_gb": 2.0},
        "tf32": {"tf32": False},
        "profile": {"max_batch": 2},
    }

    def build(args, api=apis[release], gpu=("NVIDIA Fake Orin", 8, 7)):
        trt = fake_tensorrt.install(monkeypatch, api, gpu=gpu)
        kwargs = {k: v for k, v in args.items() if k != "onnx"}
        path = te.build_cached(args["onnx"], tmp_path, **kwargs)
        return path, trt._state["builds"]

    first, _ = build(base)
    assert build(base) == (first, 0)  # same key: no build
    seen = {first}
    for name, change in variants.items():
        path, builds = build({**base, **change})
        assert builds == 1 and path not in seen, name
        seen.add(path)
    path, builds = build(base, gpu=("NVIDIA Fake Thor", 11, 0))
    assert builds == 1 and path not in seen
    seen.add(path)
    other = next((v for v in apis if v != release), None)
    if other is not None:
        path, builds = build(base, api=apis[other])
        assert builds == 1 and path not in seen
    # a dynamic ONNX is built for the network size given, else for its recorded size
    path, builds = build({**base, "onnx": dynamic_onnx, "input_size": (182, 238)})
    assert builds == 1 and read_sidecar(path).builder["profile"][1] == [1, 3, 182, 238]
    path, builds = build({**base, "onnx": dynamic_onnx})
    assert builds == 1 and read_sidecar(path).builder["profile"][1] == [1, 3, *DYNAMIC_EXPORT_SIZE]


def test_rebuild_after_gpu_change_keeps_recorded_settings(apis, monkeypatch, tmp_path, model_files, caplog):
    release = next(iter(apis))
    fake_tensorrt.install(monkeypatch, apis[release])
    plan = tmp_path / "m.plan"
    te.build_cached(model_files["fp32"], tmp_path / "cache", output=plan, max_batch=4, workspace_gb=0.5, tf32=False)
    before = read_sidecar(plan)
    trt = fake_tensorrt.install(monkeypatch, apis[release], gpu=("NVIDIA Fake Thor", 11, 0))
    with caplog.at_level(logging.WARNING):
        engine = te.TensorRTEngine.from_path(plan, cache_dir=tmp_path / "cache")
    assert trt._state["builds"] == 1 and "rebuilding" in caplog.text and "Fake Thor" in caplog.text
    after = read_sidecar(plan)
    assert after.key.gpu_name == "NVIDIA Fake Thor"
    assert after.builder["profile"] == before.builder["profile"] == [[1, 3, *STATIC_SIZES[0]]] * 2 + [[4, 3, *STATIC_SIZES[0]]]
    assert after.builder["options"] == before.builder["options"] == {"workspace_bytes": 1 << 29, "tf32": False}
    assert engine.infer(np.zeros((3, 3, *STATIC_SIZES[0]), np.float32)).shape == (3, *STATIC_SIZES[0])


def test_failing_self_check_keeps_the_plan_out_of_use(apis, monkeypatch, tmp_path, model_files, caplog):
    release = next(iter(apis))
    trt = fake_tensorrt.install(monkeypatch, apis[release], error=0.2)  # a release computing 20 % off
    with caplog.at_level(logging.ERROR), pytest.raises(SelfCheckError, match="failed its self-check: fp32 plan differs"):
        te.TensorRTEngine.from_path(model_files["fp32"], cache_dir=tmp_path)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # the caller logs the one ERROR line
    (plan,) = tmp_path.glob("*.plan")
    (record,) = read_sidecar(plan).self_checks.values()
    assert record["ok"] is False and "max rel 0.2" in record["reason"]
    with pytest.raises(SelfCheckError):  # recorded: refused again without a rebuild
        te.TensorRTEngine.from_path(model_files["fp32"], cache_dir=tmp_path)
    assert trt._state["builds"] == 1


def test_version_table_on_the_real_releases(apis, monkeypatch, tmp_path, model_files, caplog):
    for version, api in apis.items():
        fake_tensorrt.install(monkeypatch, api)
        plan = tmp_path / f"{version}.plan"
        te.build_cached(model_files["fp32"], tmp_path, output=plan)
        plan.with_name(plan.name + ".json").unlink()  # e.g. a plan from trtexec: no sidecar, no self-check
        meta = read_onnx_metadata(model_files["fp32"])[0]
        if version.startswith("10.3."):
            with pytest.raises(SelfCheckError, match="only after a passing self-check"):
                te.TensorRTEngine.from_path(plan, meta=meta)
        else:
            te.TensorRTEngine.from_path(plan, meta=meta).close()


def test_precision_comes_from_the_file(apis, monkeypatch, tmp_path, model_files):
    fake_tensorrt.install(monkeypatch, next(iter(apis.values())))
    with pytest.raises(ValueError, match="precision 'fp16' asked for, but m.onnx is fp32"):
        te.TensorRTEngine.from_path(model_files["fp32"], cache_dir=tmp_path, precision="fp16")
    assert list(tmp_path.iterdir()) == []


def test_bad_onnx_leaves_nothing_in_the_cache(apis, monkeypatch, tmp_path, model_files):
    fake_tensorrt.install(monkeypatch, next(iter(apis.values())))
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07garbage" * 10)
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match="not a readable ONNX file"):
        te.build_cached(corrupt, cache)
    import onnx

    bare = tmp_path / "bare.onnx"
    model = onnx.load(str(model_files["fp32"]))
    del model.metadata_props[:]
    onnx.save(model, str(bare))
    with pytest.raises(ValueError, match="no 'depth_anything_ros' metadata"):
        te.build_cached(bare, cache)
    assert not cache.exists() or list(cache.iterdir()) == []


def test_timing_cache_from_another_device_is_replaced(apis, monkeypatch, tmp_path, model_files, caplog):
    fake_tensorrt.install(monkeypatch, next(iter(apis.values())))
    te.build_cached(model_files["fp32"], tmp_path)
    (timing,) = tmp_path.glob("timing-*.cache")
    good = timing.read_bytes()
    timing.write_bytes(b"TC:another device")
    for plan in tmp_path.glob("*.plan*"):
        plan.unlink()
    with caplog.at_level(logging.WARNING):
        te.build_cached(model_files["fp32"], tmp_path)
    assert "does not fit this device" in caplog.text and timing.read_bytes() == good


def test_export_tensorrt_cli(apis, monkeypatch, tmp_path, model_files, capsys):
    from depth_anything_ros.cli import main

    fake_tensorrt.install(monkeypatch, next(iter(apis.values())))
    plan = tmp_path / "m.plan"
    assert main(["export", "tensorrt", "--onnx", str(model_files["fp16"]), "--precision", "int8",
                 "--cache-dir", str(tmp_path), "--output", str(plan)]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "precision 'int8' asked for, but m_fp16.onnx is fp16" in err[0]
    assert not plan.exists()
    assert main(["export", "tensorrt", "--onnx", str(model_files["fp16"]), "--max-batch", "2",
                 "--cache-dir", str(tmp_path), "--output", str(plan)]) == 0
    side = json.loads(capsys.readouterr().out)
    assert side["key"]["precision"] == "fp16" and side["builder"]["profile"][2][0] == 2
    assert all(check["ok"] for check in side["self_checks"].values())
