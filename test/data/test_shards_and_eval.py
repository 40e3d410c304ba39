"""Shard CLI round trip (labeled / unlabeled sealed / resume), evaluation logic and the eval sub-command."""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from training import data_cli
from depth_anything_ros.data import shards
from depth_anything_ros.data.readers import SealedDepth, SyntheticShards, open_dataset
from depth_anything_ros.data.synthetic import render_frames
from depth_anything_ros.evaluation.evaluate import evaluate, format_table


def test_depth_png_encoding_round_trip():
    d = np.array([[0.5, 12.3456, 64.9], [70.0, 255.0, 0.0]], np.float32)
    v = d > 0
    assert shards.choose_depth_scale(d[:1], v[:1]) == 1000.0 and shards.choose_depth_scale(d, v) == 256.0
    for scale in (1000.0, 256.0):
        png = shards.encode_depth(d, v, scale)
        back, valid = shards.decode_depth(png, scale)
        ok = v & (d * scale <= 65535)
        assert np.array_equal(valid, ok)
        assert np.abs(back[ok] - d[ok]).max() <= 0.5 / scale + 1e-6


def test_labeled_shard_cli_resume_and_reader(tmp_path, capsys):
    out = tmp_path / "lab"
    argv = ["labeled", "--out", str(out), "--count", "3", "--size", "24x32", "--views-per-scene", "2",
            "--renderer", "ray", "--quiet"]
    assert data_cli.main(argv) == 0
    assert "wrote 3 frames" in capsys.readouterr().out
    ids = shards.list_ids(out)
    assert ids == ["l0000000_00", "l0000000_01", "l0000001_00"]
    meta = json.loads((out / "l0000000_01_meta.json").read_text())
    for key in ("K", "T_world_cam", "seed", "view", "generator_version", "renderer", "depth_scale"):
        assert key in meta
    assert meta["renderer"] == "ray" and meta["depth_scale"] in (1000.0, 256.0)
    # resume: nothing to do, then two more frames
    assert data_cli.main(argv) == 0
    assert "wrote 0 frames, skipped 3" in capsys.readouterr().out
    argv[4] = "5"
    assert data_cli.main(argv) == 0
    assert "wrote 2 frames, skipped 3" in capsys.readouterr().out
    # a different configuration in the same directory is refused
    assert data_cli.main(["labeled", "--out", str(out), "--count", "1", "--size", "48x64", "--renderer", "ray",
                          "--quiet"]) == 2
    ds = SyntheticShards(out)
    assert len(ds) == 5
    ref = list(render_frames("labeled", 0, 2, 24, 32, views_per_scene=2, renderer="ray"))
    for s, r in zip([ds[0], ds[1]], ref):
        assert np.array_equal(s.image, r.image) and np.array_equal(s.valid, r.valid)
        tol = 0.5 / s.meta["depth_scale"] + 1e-6
        assert np.abs(s.depth[s.valid] - r.depth[r.valid]).max() <= tol
        np.testing.assert_allclose(s.K, r.K) and np.testing.assert_allclose(s.pose, r.pose)


def test_unlabeled_shard_is_sealed(tmp_path):
    out = tmp_path / "unl"
    assert data_cli.main(["unlabeled", "--out", str(out), "--count", "2", "--size", "24x32", "--renderer", "ray",
                          "--quiet"]) == 0
    assert not list(out.glob("*_depth.png")) and len(list((out / "sealed").glob("*_depth.png"))) == 2
    ds = SyntheticShards(out)
    s = ds[0]
    assert not s.valid.any() and np.all(s.depth == 0)
    sealed = SealedDepth(out)
    fid = ds.ids[0]
    assert sealed.ids() == ds.ids and fid in sealed
    depth, valid = sealed[fid]
    assert valid.any() and depth[valid].min() > 0
    s2 = open_dataset(f"synthetic:{out},sealed=1")[0]
    assert np.array_equal(s2.depth, depth)


def test_evaluate_relative_and_metric(tmp_path):
    from depth_anything_ros.data.readers import MiddleburyMotorcycle

    ds = MiddleburyMotorcycle()
    gt = ds[0].depth

    def affine_disparity(rgb):  # GT disparity under an arbitrary scale and shift
        return np.where(gt > 0, 2.5 / np.maximum(gt, 1e-6) + 0.3, 0.3).astype(np.float32)

    res = evaluate(affine_disparity, ds, kind="relative", output_dir=tmp_path / "rel", progress=False)
    m = res["mean"]
    assert res["count"] == 1 and m["abs_rel"] < 1e-5 and m["d1"] == 1.0 and m["disp_abs_rel"] < 1e-5
    assert m["scale"] == pytest.approx(1 / 2.5, rel=1e-4)
    assert (tmp_path / "rel" / "samples.png").stat().st_size > 1000
    saved = json.loads((tmp_path / "rel" / "metrics.json").read_text())
    assert saved["per_sample"][0]["source"] == "middlebury:motorcycle"
    assert "abs_rel" in format_table(res) and "disp" in format_table(res)

    med = float(np.median(gt[gt > 0]))
    res = evaluate(lambda rgb: np.full(rgb.shape[:2], med, np.float32), ds, kind="metric", progress=False)
    assert res["mean"]["abs_rel"] == pytest.approx(0.2118, abs=5e-4) and res["mean"]["d1"] == pytest.approx(0.5514, abs=5e-4)
    # a constant prediction cannot be aligned: the sample is skipped, not crashed on
    res = evaluate(lambda rgb: np.ones(rgb.shape[:2], np.float32), ds, kind="relative", progress=False)
    assert res["count"] == 0 and len(res["skipped"]) == 1


def test_evaluate_refuses_a_prediction_at_another_size(tmp_path):
    """The evaluator never resizes by a rule of its own (the output resize is the model version's, done by the
    predictor): a prediction at another size than the ground truth is skipped with the reason."""
    samples = list(render_frames("eval", 0, 2, 24, 32, views_per_scene=2, renderer="ray"))
    lookup = {s.image.tobytes(): s for s in samples}

    def half_res_metric(rgb):
        s = lookup[rgb.tobytes()]
        return np.where(s.valid, s.depth, 50.0)[::2, ::2] * 1.1

    res = evaluate(half_res_metric, samples, kind="metric", min_depth=1e-3, max_depth=80.0, progress=False)
    assert res["count"] == 0 and len(res["skipped"]) == 2
    assert "prediction is 12x16, ground truth 24x32" in res["skipped"][0]["reason"]


def test_eval_subcommand(tmp_path, tiny_metric_checkpoint):
    """`depth-anything-ros eval` end to end: real estimator (random-weight tiny model), real Middlebury frame."""
    import json
    import subprocess

    def run(*args):
        return subprocess.run([sys.executable, "-m", "depth_anything_ros.cli", "eval", *map(str, args)],
                              capture_output=True, text=True, timeout=300)

    out = tmp_path / "o"
    res = run("--checkpoint", tiny_metric_checkpoint, "--input-size", "70x98", "--dataset", "middlebury",
              "--output", out)
    assert res.returncode == 0, res.stderr
    assert "abs_rel" in res.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["count"] == 1 and (out / "samples.png").exists()
    res = run("--onnx", tmp_path / "missing.onnx", "--dataset", "middlebury")
    assert res.returncode == 2 and "missing.onnx: no such file" in res.stderr
    res = run("--checkpoint", tiny_metric_checkpoint, "--dataset", "kitti:/nonexistent")
    assert res.returncode == 2 and "cannot open dataset" in res.stderr
