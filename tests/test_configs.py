"""Every config group option composes, and the public keys are where users expect them."""

from pathlib import Path

import pytest
from conftest import CONF
from hydra.utils import instantiate

LOSS_NAMES = sorted(p.stem for p in (CONF / "loss").glob("*.yaml"))


def test_default_config_has_the_public_keys(compose_cfg):
    cfg = compose_cfg([])
    assert cfg.seed == 42
    # The budget is in optimizer steps, the batch size from the training split's size.
    assert cfg.trainer.max_steps >= cfg.trainer.min_steps >= 1 and cfg.trainer.batch_size == "auto"
    assert cfg.loss.name == "combined" and cfg.loss.weight_f1 == 0.5
    assert cfg.data._target_.endswith("Febrl4Source")
    assert cfg.tracking.uri.startswith("sqlite:///") and cfg.tracking.uri.endswith("mlruns/mlflow.db")
    assert cfg.tracking.experiment == "lossmatch/febrl4"  # one experiment per data set
    assert "map" in cfg.similarity
    assert cfg.optimized_metric == "val_f1"


@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_every_loss_config_instantiates_and_names_itself(loss, compose_cfg):
    from lossmatch.stages.fit import build_loss

    cfg = compose_cfg([f"loss={loss}"])
    name, obj = build_loss(cfg.loss)
    assert name == loss == Path(cfg.loss.name).name
    assert callable(obj)


def test_loss_parameters_are_group_keys(compose_cfg):
    cfg = compose_cfg(["loss=focal", "loss.alpha=0.5", "loss.gamma=1.0"])
    from lossmatch.stages.fit import build_loss

    _, loss = build_loss(cfg.loss)
    assert (loss.alpha, loss.gamma) == (0.5, 1.0)


# csv and deepmatcher have no fixed columns: their map is a placeholder the user fills.
PLACEHOLDER_MAPS = {"csv", "deepmatcher"}
# auto infers its map from the tables (tested below with two small ones).
INFERRED_MAPS = {"auto"}
SIMILARITY_NAMES = sorted(p.stem for p in (CONF / "similarity").glob("*.yaml"))


def test_auto_similarity_config_infers_a_map(compose_cfg):
    import pandas as pd

    from lossmatch.similarity.auto import resolve_similarity_map

    cfg = compose_cfg(["similarity=auto"])
    left = pd.DataFrame({"id": [1, 2], "name": ["acme anvil", "sony tv"], "price": ["10", "20"]})
    right = pd.DataFrame({"id": [3, 4], "name": ["anvil by acme", "sony tv 4k"], "price": ["10.5", "20"]})
    sm = resolve_similarity_map(cfg.similarity, left, right, ignore=["id"])
    # The conf file's options build a map over both attributes and the whole record, ids left out.
    assert sm.left_columns == ["name", "price"]
    assert "*~*:tfidf_word:mutual_best" in sm.feature_names


@pytest.mark.parametrize("name", [n for n in SIMILARITY_NAMES if n not in PLACEHOLDER_MAPS | INFERRED_MAPS])
def test_similarity_configs_parse(name, compose_cfg):
    from lossmatch.similarity import SimilarityMap

    cfg = compose_cfg([f"similarity={name}"])
    assert SimilarityMap.from_dict(cfg.similarity).feature_names


@pytest.mark.parametrize("name", sorted(PLACEHOLDER_MAPS))
def test_placeholder_similarity_maps_are_unset(name, compose_cfg):
    assert compose_cfg([f"similarity={name}"]).similarity.map is None


def test_data_group_follows_into_similarity(compose_cfg, tmp_path):
    cfg = compose_cfg(["data=deepmatcher", f"data.path={tmp_path}"])
    # data=deepmatcher has no fixed columns, so its similarity slot is empty until chosen.
    assert cfg.similarity.map is None
    assert compose_cfg(["data=deepmatcher", "similarity=beer"]).similarity.map


def test_model_config_builds_a_probability_model(compose_cfg):
    cfg = compose_cfg([])
    model = instantiate(cfg.model, n_features=5)
    assert model.output_shape == (None, 1)
    assert model.layers[-2].get_config()["activation"] == "sigmoid"


def test_experiment_overlay_overrides_groups_and_keys(compose_cfg):
    cfg = compose_cfg(["experiment=febrl4_focal"])
    assert cfg.loss.name == "focal" and cfg.loss.alpha == 0.5 and cfg.loss.gamma == 1.0
    assert cfg.seed == 7 and cfg.trainer.epochs == 15
    assert cfg.tracking.experiment == "febrl4-focal"
    # Command-line keys still win over the overlay.
    assert compose_cfg(["experiment=febrl4_focal", "seed=1"]).seed == 1


def test_the_config_check_finds_missing_data_files_before_the_job(compose_cfg, tmp_path):
    # The CLI's preflight runs lossmatch.config.validate before Hydra starts the job: a data
    # file that is not there is named then, not after the job's own compose and imports.
    from lossmatch.config import validate
    from lossmatch.errors import InputError

    (tmp_path / "a.csv").write_text("id,name\n1,x\n")
    csv = ["data=csv", f"data.left={tmp_path / 'a.csv'}", f"data.right={tmp_path / 'b.csv'}", f"data.matches={tmp_path / 'm.csv'}"]
    with pytest.raises(InputError, match=r"^data\.right: file not found: .*b\.csv$"):
        validate(compose_cfg(csv))
    with pytest.raises(InputError, match=r"^data\.path: file not found: .*tableA\.csv$"):
        validate(compose_cfg(["data=deepmatcher", f"data.path={tmp_path}"]))
