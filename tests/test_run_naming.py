"""MLflow naming: readable params, tags, experiment and run names from a composed config."""

import subprocess

import pytest
from conftest import CONF

from lossmatch.run_naming import (
    experiment_name,
    flow,
    git_state,
    readable_params,
    run_identity,
    run_name,
)

ROOT = CONF.parent

# A config as Hydra composes it, with YAML 1.1's `on:` -> True and absolute paths.
CONFIG = {
    "seed": 3,
    "debug": False,
    "max_candidate_pairs": 5000000,
    "data": {
        "_target_": "lossmatch.data.deepmatcher.DeepMatcherSource",
        "path": "/home/someone/data/Structured-Beer",
        "sample": None,
        "blocking": [{"method": "block", True: "Beer_Name"}, {"method": "sortedneighbourhood", "on": "Style", "window": 5}],
        "split": None,
    },
    "similarity": {
        "_target_": "lossmatch.similarity.SimilarityMap",
        "map": {"Beer_Name": ["jaro_winkler", {"name": "tfidf_char", "ngram_range": [2, 4]}], "ABV~abv": ["exact"]},
    },
    "model": {"_target_": "lossmatch.model.build_mlp", "hidden_units": [64, 32], "dropout": 0.1},
    "loss": {"name": "focal", "_target_": "lossmatch.losses.focal_loss", "alpha": 0.75, "gamma": 2.0},
    "trainer": {"epochs": 10, "class_weight": {0: 3.0, 1: 1.0}, "sampling": "none"},
    "tracking": {"uri": "http://user:secret@host:5000", "experiment": None, "artifact_location": "/home/someone/mlruns"},
    "paths": {"root_dir": "/home/someone/lossmatch"},
}


def test_params_are_readable_and_portable():
    params = readable_params(CONFIG, data_name="Structured-Beer", root="/home/someone/lossmatch")
    assert params == {
        "seed": "3",
        "max_candidate_pairs": "5000000",
        # The data set by name; the source's class without its module path.
        "data": "Structured-Beer",
        "data.source": "DeepMatcherSource",
        # An absolute path outside the project is reduced to its name.
        "data.path": "Structured-Beer",
        "data.sample": "null",
        # Rules as written: `on`, never True.
        "data.blocking": "[{method: block, on: Beer_Name}, {method: sortedneighbourhood, on: Style, window: 5}]",
        "data.split": "null",
        # "left~right" map keys: "~" is not allowed in an MLflow key.
        "similarity.map.Beer_Name": "[jaro_winkler, {name: tfidf_char, ngram_range: [2, 4]}]",
        "similarity.map.ABV vs abv": "[exact]",
        "model": "build_mlp",
        "model.hidden_units": "[64, 32]",
        "model.dropout": "0.1",
        # The loss by name and parameters, no _target_.
        "loss": "focal",
        "loss.alpha": "0.75",
        "loss.gamma": "2.0",
        "trainer.epochs": "10",
        "trainer.class_weight.0": "3.0",
        "trainer.class_weight.1": "1.0",
        "trainer.sampling": "none",
    }
    # Nothing about this machine or the tracking server (whose URI may hold a password).
    assert not any(k.startswith(("tracking", "paths", "debug")) for k in params)


def test_paths_inside_the_project_become_relative(tmp_path):
    (tmp_path / "data").mkdir()
    config = {"data": {"_target_": "lossmatch.data.csv.CsvSource", "left": str(tmp_path / "data" / "a.csv"), "right": "b.csv"}}
    params = readable_params(config, data_name="a", root=tmp_path)
    # Absolute inside the root -> relative; already relative -> as given.
    assert params["data.left"] == "data/a.csv" and params["data.right"] == "b.csv"


def test_flow_writes_yaml_flow_style():
    assert flow({"method": "block", True: "surname"}) == "{method: block, on: surname}"
    assert flow([True, None, 0.5, "a b"]) == "[true, null, 0.5, a b]"
    # A string YAML would misread unquoted is quoted.
    assert flow("x: y") == "'x: y'"


def test_experiment_and_run_names():
    assert experiment_name("febrl4") == "lossmatch/febrl4"
    assert experiment_name("Structured-Beer", None) == "lossmatch/Structured-Beer"
    assert experiment_name("febrl4", "my-study") == "my-study"
    assert run_name("soft_f1", 4) == "soft_f1-seed4"


def test_run_identity_exact_tags_and_names():
    identity = run_identity(
        CONFIG, data_name="Structured-Beer", study="focal-gamma", trial=7, git={"git_commit": "abc123"},
        extra_tags={"comparison": 20250101},
    )
    params, tags, experiment, name = identity
    assert tags == {
        "data": "Structured-Beer",
        "loss": "focal",
        "seed": "3",
        "study": "focal-gamma",
        "trial": "7",
        "git_commit": "abc123",
        "comparison": "20250101",
    }
    assert (experiment, name) == ("lossmatch/Structured-Beer", "focal-seed3")
    assert params["loss"] == "focal"


def test_real_config_logs_febrl4_blocking_as_written(compose_cfg):
    cfg = compose_cfg(["loss=soft_fbeta", "seed=5"])
    params, tags, _, name = run_identity(cfg, data_name="febrl4", root=ROOT, git={})
    assert params["data.blocking"].startswith("[{method: block, on: given_name}, {method: block, on: surname}")
    assert (params["loss"], params["loss.beta"], params["loss.epsilon"]) == ("soft_fbeta", "1.0", "1e-07")
    assert not any("_target_" in k or "/" in v for k, v in params.items())
    assert tags == {"data": "febrl4", "loss": "soft_fbeta", "seed": "5"}
    assert name == "soft_fbeta-seed5"


def test_no_data_config_spells_on_as_a_bare_key():
    # A bare `on:` in YAML 1.1 is the boolean true; the shipped files quote it.
    for path in sorted((CONF / "data").glob("*.yaml")):
        for line in path.read_text().splitlines():
            code = line.split("#", 1)[0]
            assert " on:" not in code and "{on:" not in code, f"{path.name}: {line.strip()}"


def test_git_state_of_a_checkout(tmp_path):
    assert git_state(None) == {}
    if subprocess.run(["git", "--version"], check=False, capture_output=True).returncode != 0:
        pytest.skip("git is not installed")
    # Not a repository: no tags rather than an error.
    assert git_state(tmp_path) == {}
    def run(*args):
        return subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)
    run("init", "-q")
    (tmp_path / "f.txt").write_text("1")
    run("add", "f.txt")
    run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, check=True, capture_output=True, text=True).stdout.strip()
    assert git_state(tmp_path) == {"git_commit": sha, "git_dirty": "false"}
    (tmp_path / "f.txt").write_text("2")
    assert git_state(tmp_path)["git_dirty"] == "true"


def test_validated_run_config_gives_the_same_identity(compose_cfg):
    from lossmatch.config import validate

    cfg = compose_cfg(["loss=focal", "seed=2"])
    from_cfg = run_identity(cfg, data_name="febrl4", root=ROOT, git={})
    from_validated = run_identity(validate(cfg), data_name="febrl4", root=ROOT, git={})
    assert from_validated.params == from_cfg.params
    assert from_validated.tags == from_cfg.tags == {"data": "febrl4", "loss": "focal", "seed": "2"}
    # tracking.experiment is null by default: one experiment per data set.
    assert from_validated.experiment_name == "lossmatch/febrl4"
