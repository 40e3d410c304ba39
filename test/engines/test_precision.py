"""fp16 / int8 ONNX variants: made by onnxconverter-common / ONNX Runtime quantization, checked in ONNX Runtime.

Oracles: ONNX Runtime itself runs both files (the figures are recomputed here, not read back from our
report), the `onnx` package reads the graph (node types, tensor element types, Q/DQ zero points).
"""
from __future__ import annotations

import json

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, numpy_helper

from depth_anything_ros.cli import main
from depth_anything_ros.inference import precision as pr
from depth_anything_ros.inference.preprocess import Preprocessor

from .conftest import STATIC_SIZES


@pytest.fixture(scope="module")
def fp32_file(static_onnx):
    return static_onnx[STATIC_SIZES[0]][0]


@pytest.fixture(scope="module")
def photos4():
    return pr.photos()


def _run(path, batch):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(["depth"], {"image": batch})[0]


def _props(path):
    return {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}


def _elem_types(model):
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {t.name: t.type.tensor_type.elem_type for t in
             list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)}
    types.update({t.name: t.data_type for t in model.graph.initializer})
    return types


def test_fp16_variant_keeps_sensitive_ops_fp32_and_matches_fp32(tmp_path, fp32_file, photos4):
    out = tmp_path / "m_fp16.onnx"
    report = pr.make_variant(fp32_file, out, "fp16", photos4, timing_repeats=1)
    model = onnx.load(str(out))
    types = _elem_types(model)
    assert model.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT
    assert model.graph.output[0].type.tensor_type.elem_type == TensorProto.FLOAT
    assert sum(t == TensorProto.FLOAT16 for t in types.values()) > 10  # really fp16 inside
    for node in model.graph.node:
        if node.op_type in ("LayerNormalization", "Softmax"):
            assert types[node.input[0]] == TensorProto.FLOAT, node.name
    props = _props(out)
    assert props["precision"] == "fp16" and props["source_sha256"] == pr.sha256_file(fp32_file)
    recorded = json.loads(props["verification"])
    assert recorded["ok"] and [i["image"] for i in recorded["images"]] == ["astronaut", "chelsea", "coffee", "rocket"]
    # the figures again, computed here from two independent ORT runs
    for (name, rgb), check in zip(photos4, report.checks):
        batch = Preprocessor(STATIC_SIZES[0])(rgb)
        a, b = _run(out, batch).astype(np.float64), _run(fp32_file, batch).astype(np.float64)
        max_rel = np.abs(a - b).max() / np.abs(b).max()
        assert max_rel <= pr.FP16_MAX_REL
        assert check.max_rel == pytest.approx(max_rel, rel=1e-6)
    # every engine knows what the file holds: ONNX Runtime reports it, and bench refuses another precision
    from depth_anything_ros.cli import main
    from depth_anything_ros.inference.engines.onnxruntime_engine import OnnxRuntimeEngine

    assert OnnxRuntimeEngine(out).describe()["precision"] == "fp16"
    assert OnnxRuntimeEngine(fp32_file).describe()["precision"] == "fp32"
    assert main(["bench", "--engine", "onnxruntime", "--onnx", str(out), "--precision", "int8",
                 "--sizes", "x".join(map(str, STATIC_SIZES[0])), "--frames", "1", "--warmup", "0"]) == 2


def test_int8_variant_is_symmetric_qdq_with_calibration_identity(tmp_path, fp32_file, photos4):
    folder = tmp_path / "calib"
    folder.mkdir()
    from skimage import data

    for name in ("hubble_deep_field", "immunohistochemistry", "colorwheel"):  # not the verification photos
        cv2.imwrite(str(folder / f"{name}.png"), cv2.cvtColor(getattr(data, name)()[..., :3], cv2.COLOR_RGB2BGR))
    calib = pr.calibration_set(f"folder:{folder}", STATIC_SIZES[0])
    assert calib.count == 3
    out = tmp_path / "m_int8.onnx"
    pr.make_variant(fp32_file, out, "int8", photos4, calib=calib, timing_repeats=1)
    model = onnx.load(str(out))
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("QuantizeLinear") > 5 and ops.count("DequantizeLinear") > 5
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear") and len(node.input) > 2:
            zp = inits[node.input[2]]
            assert zp.dtype == np.int8 and not zp.any(), node.name  # TensorRT reads symmetric int8 only
    props = _props(out)
    ident = json.loads(props["calibration"])
    assert ident == {"source": f"folder:{folder.resolve()}", "count": 3, "sha256": calib.sha256,
                     "method": pr.DEFAULT_METHOD}
    assert props["precision"] == "int8" and json.loads(props["verification"])["ok"]
    batch = Preprocessor(STATIC_SIZES[0])(photos4[1][1])
    a, b = _run(out, batch).ravel(), _run(fp32_file, batch).ravel()
    assert np.mean(np.abs(a - b) / b) <= pr.INT8_MAX_ABSREL
    assert np.mean(np.maximum(a / b, b / a) < 1.25) >= pr.INT8_MIN_DELTA1


def test_failed_verification_writes_nothing(tmp_path, fp32_file, photos4, monkeypatch):
    monkeypatch.setattr(pr, "FP16_MAX_REL", 0.0)
    out = tmp_path / "m_fp16.onnx"
    with pytest.raises(pr.PrecisionError, match="not written"):
        pr.make_variant(fp32_file, out, "fp16", photos4[:1], timing_repeats=0)
    assert list(tmp_path.iterdir()) == []


def _one_line(err):
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def test_cli_bad_inputs_one_line_each(tmp_path, capsys, fp32_file):
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07garbage" * 10)
    bare = tmp_path / "bare.onnx"
    model = onnx.load(str(fp32_file))
    del model.metadata_props[:]
    onnx.save(model, str(bare))
    cases = [
        (["--onnx", str(corrupt), "--precision", "fp16"], "corrupt.onnx"),
        (["--onnx", str(bare), "--precision", "fp16"], "no 'depth_anything_ros' metadata"),
        (["--onnx", str(fp32_file), "--precision", "int8"], "needs --calib"),
        (["--onnx", str(fp32_file), "--precision", "int8", "--calib", "webcam:0"], "expected folder:DIR"),
        (["--onnx", str(tmp_path / "none.onnx"), "--precision", "fp16"], "no such ONNX file"),
    ]
    for args, expect in cases:
        code = main(["export", "precision", *args, "--output", str(tmp_path / "out.onnx")])
        err = capsys.readouterr().err
        assert code == 2 and expect in _one_line(err), (args, err)
    assert not (tmp_path / "out.onnx").exists()
    with pytest.raises(SystemExit):  # argparse refuses an unknown precision
        main(["export", "precision", "--onnx", str(fp32_file), "--precision", "bf16", "--output", "x.onnx"])
    assert "invalid choice: 'bf16'" in capsys.readouterr().err


def test_cli_already_converted_file_is_refused(tmp_path, capsys, fp32_file, photos4):
    fp16 = tmp_path / "m_fp16.onnx"
    pr.make_variant(fp32_file, fp16, "fp16", photos4[:1], timing_repeats=0)
    code = main(["export", "precision", "--onnx", str(fp16), "--precision", "int8", "--calib", "synthetic:2",
                 "--output", str(tmp_path / "x.onnx")])
    assert code == 2 and "already fp16" in _one_line(capsys.readouterr().err)


def test_cli_export_onnx_fp16_keeps_the_fp32_source(tmp_path, capsys, tiny_metric_checkpoint):
    out = tmp_path / "m.onnx"
    code = main(["export", "onnx", "--checkpoint", str(tiny_metric_checkpoint), "--height", "182", "--width", "238",
                 "--precision", "fp16", "--output", str(out)])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    source = tmp_path / "m.fp32.onnx"
    props = _props(out)
    assert props["precision"] == "fp16" and props["source_onnx"] == source.name
    assert props["source_sha256"] == pr.sha256_file(source) and "precision" not in _props(source)
    assert "fp16 vs fp32" in stdout and stdout.strip().splitlines()[-1].startswith(f"ok: {out} (fp16")
