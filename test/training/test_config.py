"""The typed training config: defaults in one place, unknown keys named with the nearest valid one."""
import ast
import dataclasses
from pathlib import Path

import pytest

from training.config import ConfigError, TrainConfig, from_dict, load_config, replace

REPO = Path(__file__).resolve().parents[2]


def test_base_chain_and_overrides(tmp_path):
    (tmp_path / "base.yaml").write_text("name: base\nteacher: {steps: 7, crop: [28, 42]}\n")
    (tmp_path / "top.yaml").write_text("base: base.yaml\nname: top\nteacher: {batch_size: 3}\n")
    cfg = load_config(tmp_path / "top.yaml", ["teacher.steps=5", "metric.init=continue", "name=other"])
    assert cfg.name == "other" and cfg.teacher.steps == 5 and cfg.teacher.crop == [28, 42]
    assert cfg.teacher.batch_size == 3 and cfg.metric.init == "continue"
    assert cfg.student.feature_margin == TrainConfig().student.feature_margin  # untouched keys: the defaults
    with pytest.raises(ConfigError, match="key.sub=value"):
        load_config(tmp_path / "top.yaml", ["nokey"])


@pytest.mark.parametrize("override, message", [
    ("teacher.stpes=4", "unknown key 'teacher.stpes' (did you mean 'teacher.steps'?)"),
    ("metrc.steps=4", "unknown key 'metrc' (did you mean 'metric'?)"),
    ("student.augment.jiter_p=0.1", "unknown key 'student.augment.jiter_p' (did you mean 'student.augment.jitter_p'?)"),
    ("data.train=[{spec: 'folder:x', max_dpeth: 5}]", "unknown key 'data.train[0].max_dpeth' (did you mean 'data.train[0].max_depth'?)"),
])
def test_unknown_keys_name_the_nearest_valid_one(tmp_path, override, message):
    (tmp_path / "c.yaml").write_text("name: x\n")
    with pytest.raises(ConfigError) as exc:
        load_config(tmp_path / "c.yaml", [override])
    assert str(exc.value) == message


@pytest.mark.parametrize("raw, message", [
    ({"teacher": {"steps": "ten"}}, "teacher.steps: expected an integer"),
    ({"progress": 1}, "progress: expected true/false"),
    ({"metric": {"max_depth": None}}, "metric.max_depth: must be set"),
    ({"metric": {"init": "head"}}, "metric.init: 'head' is not one of encoder, continue"),
    ({"student": {"schedule": "cosine"}}, "student.schedule"),
    ({"metric": {"input_size": [266]}}, "metric.input_size"),
    ({"teacher": 5}, "teacher: expected a section"),
])
def test_bad_values_are_one_line_errors(raw, message):
    with pytest.raises(ConfigError) as exc:
        from_dict(raw)
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_ints_are_numbers_and_replace_is_checked():
    cfg = from_dict({"metric": {"max_depth": 10}})
    assert cfg.metric.max_depth == 10.0 and isinstance(cfg.metric.max_depth, float)
    c2 = replace(cfg, student={"use_unlabeled": False})
    assert not c2.student.use_unlabeled and cfg.student.use_unlabeled
    with pytest.raises(ConfigError, match="did you mean 'student.perturb'"):
        replace(cfg, student={"perturbb": False})


def test_every_shipped_config_loads():
    for path in sorted((REPO / "training" / "configs").glob("*.yaml")):
        cfg = load_config(path)
        assert isinstance(cfg, TrainConfig) and dataclasses.asdict(cfg)


def _literal_defaults_in_get_calls(tree):
    """`cfg.get("key", <literal>)`-style calls on config objects: the inline defaults the typed config replaced
    (os.environ and checkpoint-state lookups are not config)."""
    names = {"cfg", "c", "e", "x", "ev", "m", "a", "s", "d"}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
                and isinstance(node.func.value, ast.Name) and node.func.value.id in names
                and len(node.args) == 2 and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str) and isinstance(node.args[1], ast.Constant)):
            yield node.lineno, node.args[0].value


def test_no_inline_config_defaults_left_in_the_stages():
    found = []
    for path in [REPO / "training" / "engine.py", *sorted((REPO / "training" / "stages").glob("*.py"))]:
        for line, key in _literal_defaults_in_get_calls(ast.parse(path.read_text())):
            found.append(f"{path.name}:{line} {key}")
    assert found == []
