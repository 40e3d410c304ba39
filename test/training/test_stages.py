"""The stages end to end on tiny data: single process and 2-process torchrun (gloo); exact resume is in
test_resume.py."""
import json

import numpy as np
import torch

from depth_anything_ros.model.checkpoint import load_checkpoint
from train_helpers import CONFIG, cli, overrides


def run_ok(*args, **kw):
    r = cli(*args, **kw)
    assert r.returncode == 0, (r.stdout[-2000:], r.stderr[-4000:])
    return r


def test_pipeline_single_process(tmp_path, tiny_data):
    o = overrides(tmp_path, tiny_data)
    run_ok("train-teacher", "--config", CONFIG, *o)
    assert (tmp_path / "teacher" / "model.safetensors").exists()
    run_ok("pseudo-label", "--config", CONFIG, *o)
    pl = sorted((tmp_path / "pseudo").glob("*.npy"))
    assert len(pl) == 16 and np.load(pl[0]).shape == (70, 84)
    r = run_ok("train-student", "--config", CONFIG, *o)
    assert "teacher encoder" in r.stdout  # the documented stand-in for DINOv2
    s = json.loads((tmp_path / "student" / "summary.json").read_text())
    assert s["steps"] == 4 and s["feature_align"] and s["perturb"]
    run_ok("finetune-metric", "--config", CONFIG, *o)
    model, meta = load_checkpoint(tmp_path / "metric" / "model.safetensors")
    assert meta.kind == "metric" and meta.max_depth == 20.0 and meta.input_size == (70, 84)
    assert meta.training_focal and meta.training_focal > 0
    r = run_ok("evaluate", "--config", CONFIG, *o)
    ev = json.loads((tmp_path / "evaluate" / "metrics.json").read_text())
    assert ev["kind"] == "metric" and np.isfinite(ev["eval_abs_rel"])
    run_ok("export", "--config", CONFIG, *o, f"export.checkpoint={tmp_path}/shipped.safetensors")
    assert load_checkpoint(tmp_path / "shipped.safetensors")[1].kind == "metric"


def test_torchrun_two_processes_train_and_resume(tmp_path, tiny_data):
    o = overrides(tmp_path, tiny_data, "teacher.steps=4", "teacher.ckpt_every=2")
    r = run_ok("train-teacher", "--config", CONFIG, *o, torchrun=2)
    assert torch.load(tmp_path / "teacher" / "last.pt", weights_only=False)["step"] == 4
    # resume under DDP: both ranks load the checkpoint and continue to step 6
    r = run_ok("train-teacher", "--config", CONFIG, *overrides(tmp_path, tiny_data, "teacher.steps=6"), torchrun=2)
    assert "at step 4" in r.stdout
    assert torch.load(tmp_path / "teacher" / "last.pt", weights_only=False)["step"] == 6
    # pseudo-labelling sharded across the two ranks covers every frame exactly once
    run_ok("pseudo-label", "--config", CONFIG, *o, torchrun=2)
    assert len(list((tmp_path / "pseudo").glob("*.npy"))) == 16
    assert not list((tmp_path / "pseudo").glob("*.tmp*"))


def test_stages_read_any_reader_and_freeze_the_encoder(tmp_path, tiny_data):
    """The teacher trains on a rosbag (data.train), the metric stage starts from its encoder (V2 recipe) on an
    RGB-D folder with a frozen encoder: after training, the encoder tensors are still the teacher's."""
    from bags import write_rgbd_bag
    from depth_anything_ros.data.readers import SyntheticShards
    from training import data_cli

    frames = [SyntheticShards(tiny_data / "labeled")[i] for i in range(8)]
    write_rgbd_bag(tmp_path / "bag", frames, storage="mcap")
    data_cli.export_folder(f"synthetic:{tiny_data / 'labeled'}", tmp_path / "folder", limit=8, progress=False)
    bag_src = f"data.train=[{{spec: 'rosbag:{tmp_path / 'bag'}', max_depth: 15.0}}]"
    run_ok("train-teacher", "--config", CONFIG, *overrides(tmp_path, tiny_data, bag_src))
    teacher, _ = load_checkpoint(tmp_path / "teacher" / "model.safetensors")
    folder_src = f"data.train=[{{spec: 'folder:{tmp_path / 'folder'}'}}]"
    run_ok("finetune-metric", "--config", CONFIG, *overrides(tmp_path, tiny_data, folder_src, "metric.init_from=teacher",
                                                             "metric.freeze_encoder=true", "data.split_fraction=0.25",
                                                             "data.split_gap=0"))
    _shipped, meta = load_checkpoint(tmp_path / "metric" / "model.safetensors")
    model, _ = load_checkpoint(tmp_path / "metric" / "final.safetensors")  # the last step, whatever was shipped
    assert meta.extra["provenance"]["data"] == [f"folder:{tmp_path / 'folder'}"]
    assert meta.extra["provenance"]["train_frames"] == 6 and meta.extra["provenance"]["val_frames"] == 2
    for k, v in teacher.pretrained.state_dict().items():
        assert torch.equal(model.pretrained.state_dict()[k], v), k
    s = json.loads((tmp_path / "metric" / "summary.json").read_text())
    assert s["validation"]["curve"][0]["step"] == 0  # the starting model is scored first
