"""The sweeper's rules, one function at a time: storage names, redaction, the n_trials census,
job outcomes, per-trial seeding, and keeping a storage password out of the job configs."""

from __future__ import annotations

import os
from pathlib import Path

import optuna
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.sweeper import Sweeper
from omegaconf import OmegaConf
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from hydra_plugins.lossmatch_optuna_sweeper import _current_trial, current_trial
from hydra_plugins.lossmatch_optuna_sweeper._impl import (
    SURPLUS_ATTR,
    SweeperImpl,
    SweeperOptions,
    budget_before,
    census,
    job_outcome,
)
from hydra_plugins.lossmatch_optuna_sweeper._sampler import (
    PerTrialSeedSampler,
    trial_seed,
)
from hydra_plugins.lossmatch_optuna_sweeper._storage import (
    StorageError,
    parse_storage,
    redact,
)
from hydra_plugins.lossmatch_optuna_sweeper.optuna_sweeper import LossmatchOptunaSweeper

CONF = Path(__file__).with_name("conf")


def test_discovery():
    # Hydra finds the sweeper by scanning the hydra_plugins namespace package
    assert LossmatchOptunaSweeper.__name__ in [
        p.__name__ for p in Plugins.instance().discover(Sweeper)
    ]


@pytest.mark.parametrize(
    "value, kind, url",
    [
        (None, "memory", None),
        (
            "postgresql+psycopg2://u@db.example/sweeps",
            "rdb",
            "postgresql+psycopg2://u@db.example/sweeps",
        ),
        ("sqlite:////abs/s.db", "rdb", "sqlite:////abs/s.db"),
        # a relative sqlite path is pinned to the working directory (jobs may run elsewhere)
        ("sqlite:///rel/s.db", "rdb", "sqlite:///{cwd}/rel/s.db"),
        ("journal:///rel/s.log", "journal", "journal:///{cwd}/rel/s.log"),
        ("journal:////abs/s.log", "journal", "journal:////abs/s.log"),
        ("rel/s.log", "journal", "journal:///{cwd}/rel/s.log"),
    ],
)
def test_parse_storage(value, kind, url):
    spec = parse_storage(value)
    assert spec.kind == kind
    assert spec.url == (url.format(cwd=os.getcwd()) if url else None)


@pytest.mark.parametrize("value", ["journal:rel.log", "sweeps.db", "journal:///"])
def test_unknown_storage_is_named(value):
    with pytest.raises(StorageError, match="storage"):
        parse_storage(value)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("postgresql://alice:s3cret@db:5432/x", "postgresql://alice:***@db:5432/x"),
        (
            "postgresql+psycopg2://alice:p%40ss:w@db/x",
            "postgresql+psycopg2://alice:***@db/x",
        ),
        ("mysql://bob@db/x", "mysql://bob@db/x"),  # no password: unchanged
        (
            "postgresql://db/x?user=a&password=s3cret&sslmode=require",
            "postgresql://db/x?user=a&password=***&sslmode=require",
        ),
        (
            "storage postgresql://a:b@h/x failed",
            "storage postgresql://a:***@h/x failed",
        ),
    ],
)
def test_redact(text, expected):
    assert redact(text) == expected


def _frozen(number, state, **system_attrs):
    trial = create_trial(
        state=state,
        value=1.0 if state == TrialState.COMPLETE else None,
        params={"x": 0.5},
        distributions={"x": FloatDistribution(0, 1)},
        system_attrs=system_attrs,
    )
    trial.number = number
    return trial


def test_census_counts_what_n_trials_counts():
    trials = [
        _frozen(0, TrialState.COMPLETE),
        _frozen(1, TrialState.FAIL),  # stale: superseded by trial 4's retry
        _frozen(2, TrialState.PRUNED),
        _frozen(3, TrialState.FAIL),  # the task raised: finished, counts
        _frozen(4, TrialState.RUNNING, failed_trial=1, retry_history=[1]),
        _frozen(5, TrialState.WAITING),
        _frozen(
            6, TrialState.FAIL, **{SURPLUS_ATTR: True}
        ),  # a surplus ask: never counts
    ]
    counts = census(trials)
    assert [t.number for t in counts.finished] == [0, 2, 3]
    assert [t.number for t in counts.failed] == [3]
    assert [t.number for t in counts.running] == [4]
    assert [t.number for t in counts.waiting] == [5]
    # below trial 6: 0, 2, 3, 4, 5 count (1 superseded): 5
    assert budget_before(trials, 6) == 5
    # below trial 2: only 0 (1 is superseded)
    assert budget_before(trials, 2) == 1


def _job(status, value):
    ret = JobReturn()
    ret.status = status
    ret.return_value = value
    return ret


@pytest.mark.parametrize(
    "status, value, expected",
    [
        (JobStatus.COMPLETED, 0.75, (TrialState.COMPLETE, 0.75, None)),
        (JobStatus.COMPLETED, "0.5", (TrialState.COMPLETE, 0.5, None)),
        (
            JobStatus.COMPLETED,
            float("nan"),
            (TrialState.FAIL, None, "the task returned nan, expected a finite number"),
        ),
        (
            JobStatus.COMPLETED,
            float("inf"),
            (TrialState.FAIL, None, "the task returned inf, expected a finite number"),
        ),
        (
            JobStatus.COMPLETED,
            None,
            (TrialState.FAIL, None, "the task returned None, expected one number"),
        ),
        (JobStatus.FAILED, optuna.TrialPruned(), (TrialState.PRUNED, None, None)),
        (
            JobStatus.FAILED,
            ValueError("bad alpha"),
            (TrialState.FAIL, None, "ValueError: bad alpha"),
        ),
    ],
)
def test_job_outcome(status, value, expected):
    assert job_outcome(_job(status, value)) == expected


def _params_of_asks(study, n):
    space = {"x": FloatDistribution(0, 1)}
    out = {}
    for _ in range(n):
        trial = study.ask(fixed_distributions=space)
        out[trial.number] = trial.params["x"]
        study.tell(trial, 0.0)
    return out


def test_per_trial_seed_depends_on_the_trial_number_only():
    def make(seed):
        return optuna.samplers.RandomSampler(seed=seed)
    first = _params_of_asks(
        optuna.create_study(sampler=PerTrialSeedSampler(make, 7)), 3
    )
    # the same seed again: the same parameters per trial number (reproducible)
    assert (
        _params_of_asks(optuna.create_study(sampler=PerTrialSeedSampler(make, 7)), 3)
        == first
    )
    # a study resumed after trial 0 (another process ran it): trial 1 draws what trial 1 drew
    # first time, not trial 0's parameters again
    resumed = optuna.create_study(sampler=PerTrialSeedSampler(make, 7))
    resumed.add_trial(
        create_trial(
            value=0.0, params={"x": 0.123}, distributions={"x": FloatDistribution(0, 1)}
        )
    )
    assert _params_of_asks(resumed, 1) == {1: first[1]}
    assert len(set(first.values())) == 3 and trial_seed(7, 1) != trial_seed(7, 2)


def test_current_trial_is_none_outside_a_sweep(monkeypatch):
    monkeypatch.delenv(_current_trial.ENV_TRIAL, raising=False)
    assert current_trial() is None
    monkeypatch.setenv(_current_trial.ENV_TRIAL, "-1")  # the declared default of a job
    monkeypatch.setenv(_current_trial.ENV_STUDY, "toy")
    assert current_trial() is None


def test_current_trial_in_process(monkeypatch):
    # The basic launcher's job gets the sweeper's own trial object: an in-memory study works.
    study = optuna.create_study(
        study_name="toy", pruner=optuna.pruners.MedianPruner(n_startup_trials=0)
    )
    trial = study.ask({"x": FloatDistribution(0, 1)})
    monkeypatch.setitem(_current_trial._LIVE, ("toy", trial.number), trial)
    monkeypatch.setenv(_current_trial.ENV_TRIAL, str(trial.number))
    monkeypatch.setenv(_current_trial.ENV_STUDY, "toy")
    monkeypatch.setenv(_current_trial.ENV_PARENT_RUN, "abc123")
    handle = current_trial()
    handle.report(0.5, step=0)
    handle.set_user_attr("test_f1", 0.9)
    assert (handle.number, handle.study_name, handle.should_prune()) == (
        0,
        "toy",
        False,
    )
    assert study.trials[0].intermediate_values == {0: 0.5} and study.trials[
        0
    ].user_attrs == {"test_f1": 0.9}
    assert handle.mlflow_tags() == {
        "optuna.study_name": "toy",
        "optuna.trial_number": "0",
        "mlflow.parentRunId": "abc123",
    }


def test_storage_password_stays_out_of_job_configs(monkeypatch):
    secret_url = "postgresql+psycopg2://alice:s3cret@127.0.0.1:1/sweeps"
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        master = compose(
            "config",
            overrides=[f"hydra.sweeper.storage={secret_url}"],
            return_hydra_config=True,
        )
        sweeper = SweeperImpl(
            SweeperOptions(
                sampler=None,
                pruner=None,
                direction="minimize",
                storage=secret_url,
                study_name="toy",
                n_trials=3,
                n_jobs=1,
                max_failure_rate=0.0,
                heartbeat_interval=1,
                grace_period=None,
                max_retry=1,
                params=None,
                custom_search_space=None,
                mlflow=None,
            )
        )
        sweeper.config = master
        monkeypatch.setenv(
            _current_trial.ENV_STORAGE, "before"
        )  # restored by monkeypatch afterwards
        monkeypatch.delenv(_current_trial.ENV_STORAGE)
        saved = sweeper._prepare_jobs("toy", None)
        # a job is composed as Hydra's launcher does: the master's hydra overrides + the job's
        job_overrides = list(master.hydra.overrides.hydra) + [
            "x=0.5",
            f"hydra.job.env_set.{_current_trial.ENV_TRIAL}=4",
        ]
        job = compose("config", overrides=job_overrides, return_hydra_config=True)
    saved_text = OmegaConf.to_yaml(job.hydra)  # what Hydra writes to .hydra/hydra.yaml
    assert "s3cret" not in saved_text and "alice:***@" in saved_text
    assert job.hydra.job.env_set[_current_trial.ENV_TRIAL] == "4"
    assert job.hydra.job.env_set[_current_trial.ENV_STUDY] == "toy"
    # the job process learns the real URL from the sweeper's environment, which is not saved
    assert os.environ[_current_trial.ENV_STORAGE] == secret_url
    assert saved == {_current_trial.ENV_STORAGE: None}
