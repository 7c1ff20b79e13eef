"""conf/hparams_search/<loss>_optuna.yaml: each composes with train.yaml and searches its loss's parameters."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from optuna.distributions import FloatDistribution

from hydra_plugins.lossmatch_optuna_sweeper._search_space import params_from_overrides

CONF = Path(__file__).resolve().parents[2] / "conf"

# The README's ranges: weights in [0, 1], gamma >= 0, epsilon/pos_weight/beta > 0 (log scale).
EXPECTED = {
    "soft_f1": {"loss.epsilon": FloatDistribution(1e-9, 1e-3, log=True)},
    "focal": {
        "loss.alpha": FloatDistribution(0.05, 0.95),
        "loss.gamma": FloatDistribution(0.0, 5.0),
    },
    "combined": {
        "loss.weight_f1": FloatDistribution(0.0, 1.0),
        "loss.alpha": FloatDistribution(0.05, 0.95),
        "loss.gamma": FloatDistribution(0.0, 5.0),
        "loss.epsilon": FloatDistribution(1e-9, 1e-3, log=True),
    },
    "weighted_bce": {"loss.pos_weight": FloatDistribution(0.1, 100.0, log=True)},
    "soft_fbeta": {"loss.beta": FloatDistribution(0.25, 4.0, log=True)},
    "soft_jaccard": {"loss.epsilon": FloatDistribution(1e-9, 1e-3, log=True)},
}


def test_one_file_per_searched_loss():
    assert sorted(p.stem for p in (CONF / "hparams_search").glob("*.yaml")) == sorted(
        f"{k}_optuna" for k in EXPECTED
    )


@pytest.mark.parametrize("loss", sorted(EXPECTED))
def test_hparams_search_composes(loss, monkeypatch):
    monkeypatch.setenv("PROJECT_ROOT", str(CONF.parent))
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[f"hparams_search={loss}_optuna"],
            return_hydra_config=True,
        )
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("LossmatchOptunaSweeper")
    assert cfg.loss.name == loss and cfg.optimized_metric == "val_f1"
    assert sweeper.direction.name == "maximize" and sweeper.n_trials == 20
    assert (
        sweeper.sampler._target_ == "optuna.samplers.TPESampler"
        and sweeper.sampler.seed == cfg.seed
    )
    assert sweeper.study_name == f"{loss}-febrl4" and sweeper.storage is None
    space, fixed, _ = params_from_overrides(
        [f"{k}={v}" for k, v in sweeper.params.items()]
    )
    assert space == EXPECTED[loss] and fixed == {}
    # every searched key exists in the loss config, so a trial's override replaces a real value
    assert all(OmegaConf.select(cfg, key) is not None for key in space)
    assert (
        OmegaConf.to_container(sweeper.mlflow, resolve=True)["tracking_uri"]
        == cfg.tracking.uri
    )
