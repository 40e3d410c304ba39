"""TensorRT cache key, invalidation, version policy and sidecars: everything that needs no tensorrt."""
from __future__ import annotations

import dataclasses
import importlib.util
import json

import pytest

from depth_anything_ros.inference.engines import tensorrt_cache as tc

KEY = tc.EngineKey("NVIDIA GeForce RTX 4090", "8.9", "10.8.0.43", "fp16", "1x3x518x392", "ab" * 32,
                   tc.canonical_options({"workspace_bytes": 1 << 32, "tf32": True}))


def _store(cache: tc.EngineCache, key: tc.EngineKey, stem="depth", sidecar_key=None) -> "tc.Path":
    path = cache.plan_path(key, stem)
    side = tc.PlanSidecar(sidecar_key or key, '{"kind": "metric"}', "/models/depth.onnx", {"profile": [[1, 3, 518, 392]] * 3})
    tc.write_plan(path, b"PLAN", side)
    return path


def test_key_digest_is_stable_and_covers_every_field():
    assert KEY.digest == tc.EngineKey(*dataclasses.astuple(KEY)).digest
    changed = {
        "gpu_name": "Orin", "compute_capability": "8.7", "tensorrt_version": "10.3.0.30",
        "precision": "int8", "input_shape": "1x3x518x518", "onnx_sha256": "cd" * 32,
        "builder_options": tc.canonical_options({"workspace_bytes": 1 << 31, "tf32": True}),
    }
    digests = {dataclasses.replace(KEY, **{f: v}).digest for f, v in changed.items()}
    assert KEY.digest not in digests and len(digests) == len(changed)
    name = KEY.plan_name("depth vits/v2")
    assert name.endswith(f"-{KEY.digest}.plan") and "/" not in name and " " not in name


def test_key_rejects_unknown_precision():
    with pytest.raises(ValueError, match="precision"):
        dataclasses.replace(KEY, precision="bf16")


def test_explain_mismatch_names_each_difference():
    assert tc.explain_mismatch(KEY, KEY) is None
    orin = dataclasses.replace(KEY, gpu_name="Orin", compute_capability="8.7")
    assert "built on NVIDIA GeForce RTX 4090 (sm 8.9), this is Orin (sm 8.7)" in tc.explain_mismatch(KEY, orin)
    old = dataclasses.replace(KEY, tensorrt_version="10.3.0.30")
    assert "built with TensorRT 10.8.0.43, this is TensorRT 10.3.0.30" in tc.explain_mismatch(KEY, old)
    assert "precision fp16, asked for int8" in tc.explain_mismatch(KEY, dataclasses.replace(KEY, precision="int8"))
    assert "ONNX file changed" in tc.explain_mismatch(KEY, dataclasses.replace(KEY, onnx_sha256="0" * 64))
    fewer = dataclasses.replace(KEY, builder_options=tc.canonical_options({"workspace_bytes": 1, "tf32": True}))
    assert "builder options" in tc.explain_mismatch(KEY, fewer)


def test_cache_hit_only_for_the_same_key(tmp_path):
    cache = tc.EngineCache(tmp_path)
    path = _store(cache, KEY)
    hit = cache.lookup(KEY, "depth")
    assert hit.plan == path and "matches" in hit.reason
    assert cache.lookup(dataclasses.replace(KEY, input_shape="1x3x518x518"), "depth").plan is None


@pytest.mark.parametrize("change,expect", [
    ({"gpu_name": "Orin", "compute_capability": "8.7"}, "built on NVIDIA GeForce RTX 4090 (sm 8.9), this is Orin"),
    ({"tensorrt_version": "10.9.0.34"}, "built with TensorRT 10.8.0.43, this is TensorRT 10.9.0.34"),
])
def test_plan_from_another_gpu_or_tensorrt_is_never_loaded(tmp_path, change, expect):
    cache = tc.EngineCache(tmp_path)
    _store(cache, KEY)
    here = dataclasses.replace(KEY, **change)
    found = cache.lookup(here, "depth")
    assert found.plan is None
    assert expect in found.reason and found.reason.endswith("rebuilding")


def test_renamed_plan_is_checked_by_its_sidecar(tmp_path):
    """A plan copied under the current key's name but built elsewhere: the sidecar says so, it is refused."""
    cache = tc.EngineCache(tmp_path)
    elsewhere = dataclasses.replace(KEY, gpu_name="Orin", compute_capability="8.7")
    _store(cache, KEY, sidecar_key=elsewhere)
    found = cache.lookup(KEY, "depth")
    assert found.plan is None and "Orin" in found.reason


def test_plan_without_sidecar_is_rebuilt(tmp_path):
    cache = tc.EngineCache(tmp_path)
    path = _store(cache, KEY)
    tc.sidecar_path(path).unlink()
    found = cache.lookup(KEY, "depth")
    assert found.plan is None and "no readable sidecar" in found.reason


def test_empty_cache_says_it_builds(tmp_path):
    found = tc.EngineCache(tmp_path / "missing").lookup(KEY)
    assert found.plan is None and found.reason.startswith("no cached plan") and "building" in found.reason


def test_timing_cache_is_per_gpu_and_tensorrt(tmp_path):
    cache = tc.EngineCache(tmp_path)
    a = cache.timing_cache_path(KEY)
    assert a == cache.timing_cache_path(dataclasses.replace(KEY, precision="int8", onnx_sha256="0" * 64))
    assert a != cache.timing_cache_path(dataclasses.replace(KEY, tensorrt_version="10.9"))
    assert a != cache.timing_cache_path(dataclasses.replace(KEY, gpu_name="Orin", compute_capability="8.7"))
    assert a.parent == tmp_path and "sm89" in a.name


def test_sidecar_round_trip_and_bad_sidecars(tmp_path):
    side = tc.PlanSidecar(KEY, '{"kind": "relative"}', "/m.onnx", {"workspace_gb": 4})
    assert tc.PlanSidecar.from_json(side.to_json()) == side
    plan = tmp_path / "m.plan"
    tc.write_plan(plan, b"x", side)
    assert plan.read_bytes() == b"x" and tc.read_sidecar(plan) == side
    data = json.loads(side.to_json())
    data["sidecar_version"] = 99
    tc.sidecar_path(plan).write_text(json.dumps(data))
    assert tc.read_sidecar(plan) is None
    tc.sidecar_path(plan).write_text("{broken")
    assert tc.read_sidecar(plan) is None
    assert tc.read_sidecar(tmp_path / "none.plan") is None


def test_check_plan_file(tmp_path):
    plan = tmp_path / "m.plan"
    tc.write_plan(plan, b"x", tc.PlanSidecar(KEY, "{}"))
    assert tc.check_plan_file(plan, ("NVIDIA GeForce RTX 4090", "8.9"), "10.8.0.43")[1] is None
    side, why = tc.check_plan_file(plan, ("Orin", "8.7"), "10.8.0.43")
    assert side.key == KEY and "this is Orin" in why
    assert tc.check_plan_file(tmp_path / "trtexec.plan", ("Orin", "8.7"), "10.3") == (None, None)


@pytest.mark.parametrize("version,status,self_check,warning", [
    ("10.3.0.30", "self-check required", True, "TensorRT 10.3.0.30: TensorRT 10.3 (JetPack 6.x) is known to give wrong"),
    ("10.3.0", "self-check required", True, "TensorRT 10.3.0: TensorRT 10.3"),
    ("10.0.1", "supported", False, None),
    ("10.13.3.9", "supported", False, None),
    ("10.16.1.11", "supported", False, None),
    ("11.4.0.106", "supported", False, None),
    ("12.0.0", "untested", False, "TensorRT 12.0.0 is newer than any release this engine was checked against"),
])
def test_version_table(version, status, self_check, warning):
    policy = tc.version_policy(version)
    assert (policy.status, policy.require_self_check) == (status, self_check)
    if warning is None:
        assert policy.warning is None and tc.version_warnings(version) == []
    else:
        assert policy.warning.startswith(warning) and tc.version_warnings(version) == [policy.warning]


@pytest.mark.parametrize("version", ["8.6.1", "9.9"])
def test_versions_before_10_are_refused(version):
    with pytest.raises(tc.TensorRTVersionError, match="needs TensorRT >= 10"):
        tc.version_policy(version)


def test_parse_version():
    assert tc.parse_version("10.3.0.30") == (10, 3, 0, 30)
    assert tc.parse_version("10.8.0.post1") == (10, 8, 0)
    with pytest.raises(ValueError):
        tc.parse_version("abc")


def test_profiles_from_exported_files(static_onnx, dynamic_onnx):
    (static_path, _), = [v for k, v in static_onnx.items() if k == (266, 350)]
    shape = tc.onnx_input_shape(static_path)
    assert shape == (-1, 3, 266, 350)
    assert tc.resolve_profile(shape, None, 4) == ((1, 3, 266, 350), (1, 3, 266, 350), (4, 3, 266, 350))
    with pytest.raises(ValueError, match="static 266x350"):
        tc.resolve_profile(shape, (518, 392), 1)
    dyn = tc.onnx_input_shape(dynamic_onnx)
    assert dyn == (-1, 3, -1, -1)
    with pytest.raises(ValueError, match="dynamic H/W"):
        tc.resolve_profile(dyn, None, 1)
    profile = tc.resolve_profile(dyn, (518, 392), 1, min_size=(308, 308), max_size=(518, 518))
    assert profile == ((1, 3, 308, 308), (1, 3, 518, 392), (1, 3, 518, 518))
    assert tc.format_profile(profile) == "1x3x308x308/1x3x518x392/1x3x518x518"
    assert tc.format_profile(tc.static_profile(518, 392)) == "1x3x518x392"


def test_sha256_and_default_cache_dir(tmp_path, monkeypatch):
    f = tmp_path / "a.bin"
    f.write_bytes(b"abc")
    from depth_anything_ros.metadata import sha256_file

    assert sha256_file(f) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    monkeypatch.setenv("DEPTH_ANYTHING_ROS_CACHE", str(tmp_path))
    assert tc.default_cache_dir() == tmp_path / "tensorrt"


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="tensorrt is installed here")
def test_tensorrt_engine_without_the_library_says_what_to_install(static_onnx):
    from depth_anything_ros.inference.engines import create_engine

    path, _ = static_onnx[(266, 350)]
    with pytest.raises(RuntimeError) as info:
        create_engine("tensorrt", str(path))
    text = str(info.value)
    assert "\n" not in text and "(No module named 'tensorrt')" in text  # the original import error
    assert 'pip install "tensorrt-cu12>=10.13,<12"' in text and 'pip install "tensorrt-cu13>=11,<12"' in text
    assert "JetPack" in text and "--system-site-packages" in text


def test_write_atomic_leaves_no_temp_files(tmp_path):
    target = tmp_path / "sub" / "timing.cache"
    tc.write_atomic(target, b"abc")
    tc.write_atomic(target, b"defg")
    assert target.read_bytes() == b"defg" and [p.name for p in target.parent.iterdir()] == ["timing.cache"]


    with pytest.raises(TypeError):
        tc.write_atomic(target, "not bytes")  # a failed write keeps the old file, no temp left
    assert target.read_bytes() == b"defg" and len(list(target.parent.iterdir())) == 1
