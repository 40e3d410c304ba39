"""`depth-anything-ros export` and `bench`: exit codes and one-line errors; the happy paths on tiny models."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from depth_anything_ros.cli import main

from .conftest import STATIC_SIZES

ROOT = Path(__file__).resolve().parents[2]


def _run(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(err: str, command: str) -> str:
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"depth-anything-ros {command}: error: ")
    return lines[0]


def test_export_missing_checkpoint(capsys, tmp_path):
    code, _, err = _run(capsys, ["export", "onnx", "--checkpoint", str(tmp_path / "none.safetensors"),
                                 "--height", "182", "--width", "238", "--output", str(tmp_path / "m.onnx")])
    assert code == 2
    assert "no such file or directory" in _one_line_error(err, "export")
    assert not (tmp_path / "m.onnx").exists()


def test_export_bad_size_and_opset(capsys, tmp_path, varied_checkpoint):
    base = ["export", "onnx", "--checkpoint", str(varied_checkpoint), "--output", str(tmp_path / "m.onnx")]
    code, _, err = _run(capsys, base + ["--height", "180", "--width", "238"])
    assert code == 2 and "multiples of 14" in _one_line_error(err, "export")
    code, _, err = _run(capsys, base + ["--height", "182", "--width", "238", "--opset", "13"])
    assert code == 2 and "--opset 13" in _one_line_error(err, "export")


def test_export_onnx_then_bench_it(capsys, tmp_path, varied_checkpoint, photos):
    image = tmp_path / "cat.png"
    cv2.imwrite(str(image), cv2.cvtColor(photos[0][1], cv2.COLOR_RGB2BGR))
    out_path = tmp_path / "m.onnx"
    code, out, err = _run(capsys, ["export", "onnx", "--checkpoint", str(varied_checkpoint), "--height", "182",
                                   "--width", "238", "--output", str(out_path), "--verify-images", str(image)])
    assert code == 0, err
    assert out_path.is_file()
    assert "cat.png" in out and "182x238" in out and out.strip().splitlines()[-1].startswith("ok: ")
    report = tmp_path / "bench.json"
    code, out, err = _run(capsys, ["bench", "--engine", "onnxruntime", "--onnx", str(out_path), "--sizes", "182x238",
                                   "--frames", "3", "--warmup", "1", "--threads", "1", "--json", str(report)])
    assert code == 0, err
    data = json.loads(report.read_text())
    (row,) = data["results"]
    assert row["size"] == "182x238" and row["frames"] == 3 and row["p50_ms"] > 0 and row["p99_ms"] >= row["p50_ms"]
    assert row["peak_mem_mb"] > 0 and data["versions"]["onnxruntime"] and data["machine"]["cores"]
    assert data["engine"]["engine"] == "onnxruntime"


def test_export_fails_on_a_verification_error(capsys, tmp_path, varied_checkpoint, monkeypatch):
    """Above tolerance: exit 2, one line, and the rejected file is not left behind."""
    from depth_anything_ros.inference import export as ex

    real_verify = ex.verify_onnx

    def verify_against_wrong_model(path, model, images, **kw):
        import torch

        with torch.no_grad():
            model.depth_head.scratch.output_conv2[2].bias.add_(1.0)  # the reference now differs by 1.0
        return real_verify(path, model, images, **kw)

    monkeypatch.setattr(ex, "verify_onnx", verify_against_wrong_model)
    out_path = tmp_path / "m.onnx"
    code, _, err = _run(capsys, ["export", "onnx", "--checkpoint", str(varied_checkpoint), "--height", "182",
                                 "--width", "238", "--output", str(out_path)])
    assert code == 2
    # progress lines go to stderr too; the error itself is one line
    line = _one_line_error("\n".join(l for l in err.splitlines() if l.startswith("depth-anything-ros")), "export")
    assert "differs from torch fp32" in line and "removed" in line
    assert not out_path.exists()


def test_bench_bad_sizes(capsys, varied_checkpoint):
    for sizes, expect in (("518x", "HxW"), ("518x390", "multiples of 14"), (",", "give sizes")):
        code, _, err = _run(capsys, ["bench", "--engine", "torch", "--checkpoint", str(varied_checkpoint),
                                     "--sizes", sizes])
        assert code == 2 and expect in _one_line_error(err, "bench"), sizes


def test_bench_missing_checkpoint(capsys, tmp_path):
    code, _, err = _run(capsys, ["bench", "--engine", "torch", "--checkpoint", str(tmp_path / "none.pth"),
                                 "--sizes", "308x308"])
    assert code == 2 and "none.pth: no such file" in _one_line_error(err, "bench")


def test_bench_static_onnx_at_another_size(capsys, static_onnx):
    path, _ = static_onnx[STATIC_SIZES[1]]
    code, _, err = _run(capsys, ["bench", "--engine", "onnxruntime", "--onnx", str(path),
                                 "--sizes", "182x238,518x392"])
    line = _one_line_error(err, "bench")
    assert code == 2 and "runs at 182x238 only" in line and "--dynamic" in line


def test_bench_engine_source_mismatch(capsys, static_onnx, varied_checkpoint):
    path, _ = static_onnx[STATIC_SIZES[1]]
    code, _, err = _run(capsys, ["bench", "--engine", "torch", "--onnx", str(path), "--sizes", "182x238"])
    assert code == 2 and "needs --checkpoint" in _one_line_error(err, "bench")
    code, _, err = _run(capsys, ["bench", "--engine", "onnxruntime", "--checkpoint", str(varied_checkpoint),
                                 "--sizes", "182x238"])
    assert code == 2 and "needs --onnx" in _one_line_error(err, "bench")


def test_bench_torch_cpu(capsys, varied_checkpoint):
    code, out, err = _run(capsys, ["bench", "--engine", "torch", "--checkpoint", str(varied_checkpoint),
                                   "--sizes", "182x238,154x210", "--frames", "2", "--warmup", "1"])
    assert code == 0, err
    assert "182x238" in out and "154x210" in out and "torch" in out and "process peak RSS" in out


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="tensorrt is installed here")
def test_export_tensorrt_without_tensorrt(capsys, static_onnx, tmp_path):
    path, _ = static_onnx[STATIC_SIZES[1]]
    code, _, err = _run(capsys, ["export", "tensorrt", "--onnx", str(path), "--output", str(tmp_path / "m.plan")])
    line = _one_line_error(err, "export")
    assert code == 2 and "cannot import tensorrt (No module named 'tensorrt')" in line and "JetPack" in line
    assert not (tmp_path / "m.plan").exists()


def test_console_exit_code_in_a_subprocess(tmp_path):
    """The real process: exit status 2 and a single stderr line."""
    proc = subprocess.run([sys.executable, "-m", "depth_anything_ros.cli", "bench", "--engine", "torch",
                           "--checkpoint", str(tmp_path / "none.pth"), "--sizes", "308x308"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"depth-anything-ros bench: error: {tmp_path / 'none.pth'}: no such file"]
