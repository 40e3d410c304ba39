"""Shared training helpers: lr schedules, parameter groups, atomic checkpoints, config overrides."""
import os

import pytest
import torch

from depth_anything_ros.model import build_model
from training.config import MetricCfg, load_config
from training.engine import (Budget, Dist, atomic_save, image_grid, lr_factor, make_optimizer, param_groups,
                             summary_table)


def test_lr_schedules():
    assert lr_factor("linear", 0.0) == 1.0
    assert lr_factor("linear", 0.25) == pytest.approx(0.75)
    assert lr_factor("poly", 0.5) == pytest.approx(0.5 ** 0.9)
    assert lr_factor("poly", 1.0) == 0.0
    assert lr_factor("linear", 0.0, step=0, warmup=4) == pytest.approx(0.25)
    with pytest.raises(ValueError):
        lr_factor("cosine", 0.1)


def test_param_groups_encoder_and_decoder():
    model = build_model("vitt")
    opt = make_optimizer(model, MetricCfg(lr_encoder=5e-6, decoder_lr_mult=10, weight_decay=0.01))
    enc, dec = opt.param_groups
    assert enc["name"] == "encoder" and enc["lr"] == pytest.approx(5e-6)
    assert dec["name"] == "decoder" and dec["lr"] == pytest.approx(5e-5)
    assert enc["weight_decay"] == dec["weight_decay"] == 0.01
    names = {id(p): n for n, p in model.named_parameters()}
    assert all(names[id(p)].startswith("pretrained.") for p in enc["params"])
    assert not any(names[id(p)].startswith("pretrained.") for p in dec["params"])
    assert len(enc["params"]) + len(dec["params"]) == len(list(model.parameters()))
    assert isinstance(opt, torch.optim.AdamW)
    assert param_groups(model, 1.0, 2.0)[1]["lr"] == 2.0


def test_atomic_save_leaves_no_temp_file(tmp_path):
    p = tmp_path / "x" / "last.pt"
    atomic_save({"a": torch.ones(3)}, p)
    atomic_save({"a": torch.zeros(3)}, p)
    assert torch.equal(torch.load(p)["a"], torch.zeros(3))
    assert os.listdir(p.parent) == ["last.pt"]


def test_budget_by_steps_and_time():
    b = Budget(10, None, Dist())
    assert b.fraction(5) == 0.5 and not b.done(9) and b.done(10)
    t = Budget(10**6, 1.0, Dist(), spent=60.0)  # a minute already spent before a resume
    assert t.done(0)


def test_paper_configs_load_and_match_the_spec():
    for enc in ("vits", "vitb", "vitl"):
        cfg = load_config(f"training/configs/paper_{enc}.yaml")
        assert cfg.model.encoder == enc
        for stage in ("teacher", "student", "metric"):
            s = getattr(cfg, stage)
            assert s.lr_encoder == 5e-6 and s.decoder_lr_mult == 10 and s.weight_decay == 0.01
            assert s.crop == [518, 518]
        assert cfg.teacher.schedule == cfg.student.schedule == "linear"
        assert cfg.metric.schedule == "poly" and cfg.metric.silog_lambda == 0.5
        st = cfg.student
        assert st.unlabeled_batch == 2 * st.labeled_batch
        assert st.cutmix_p == 0.5 and st.feature_margin == 0.85 and st.feature_align and st.perturb
        build_model(enc, "v2", "metric", cfg.metric.max_depth)  # the config names a buildable model


def test_grid_and_table():
    g = image_grid([[torch.rand(3, 8, 10), torch.rand(8, 10)]])
    assert g.shape == (3, 12, 26)
    assert summary_table([{"a": 1.23456, "b": "x"}]).splitlines()[2] == "| 1.235 | x |"


def test_student_step_benchmark_runs():
    from training.stages.bench import bench

    assert bench("vitt", 28, 1, 2, steps=1, warmup=0, device="cpu", amp=False) > 0


def test_metric_init_takes_only_the_encoder(tmp_path):
    from depth_anything_ros.model.checkpoint import save_checkpoint
    from training.stages.finetune_metric import init_encoder_from

    torch.manual_seed(0)
    rel = build_model("vitt")
    save_checkpoint(rel, tmp_path / "rel.safetensors")
    torch.manual_seed(1)
    metric = build_model("vitt", "v2", "metric", 20.0)
    head_before = {k: v.clone() for k, v in metric.depth_head.state_dict().items()}
    assert init_encoder_from(metric, tmp_path / "rel.safetensors") == len(rel.pretrained.state_dict())
    for k, v in rel.pretrained.state_dict().items():
        assert torch.equal(metric.pretrained.state_dict()[k], v)
    for k, v in metric.depth_head.state_dict().items():  # the head stays as initialised (V2 recipe)
        assert torch.equal(v, head_before[k])


def test_rng_state_round_trip_covers_every_source():
    """Python random, NumPy, torch and a stage generator continue identically after a restore."""
    import random

    import numpy as np

    from training.engine import rng_state, set_rng_state

    g = torch.Generator().manual_seed(5)

    def draw():
        return (random.random(), float(np.random.rand()), float(torch.rand(1)), float(torch.rand(1, generator=g)))

    draw()
    state = rng_state({"augment": g})
    first = [draw() for _ in range(3)]
    random.seed(99), np.random.seed(99), torch.manual_seed(99), g.manual_seed(99)  # anything in between
    set_rng_state(torch.load(_roundtrip(state), weights_only=False), {"augment": g})
    assert [draw() for _ in range(3)] == first


def _roundtrip(obj):
    import io

    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    return buf
