"""Tiny synthetic shards shared by the stage tests (rendered once per session, ~5 s)."""
import pytest
from train_helpers import CONFIG, cli


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny_data")
    r = cli("render-data", "--config", CONFIG, f"data.root={root}", f"run_dir={root}/unused", "progress=false")
    assert r.returncode == 0, r.stderr[-3000:]
    return root
