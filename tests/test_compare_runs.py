"""The parts of a loss comparison that need no training: command line, plan, tuned losses,
ensemble members, predictions read back from runs (fabricated inputs, known answers)."""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest
from conftest import CONF, ROOT, load_script
from omegaconf import OmegaConf

from lossmatch import compare_runs
from lossmatch.ensemble_runs import member_groups
from lossmatch.errors import InputError
from lossmatch.predictions import align, split_predictions


def _cli():
    return load_script("pipelines/compare_losses.py")


def _store(tmp_path) -> list[str]:
    return [f"tracking.uri=sqlite:///{tmp_path}/mlruns/mlflow.db", f"tracking.artifact_location={tmp_path}/mlruns/artifacts"]


def test_command_line_keeps_overrides_apart_from_losses_and_studies():
    args = _cli().parse(["--losses", "bce", "focal,soft_f1", "trainer.epochs=5", "--study", "focal:s1", "data.sample=3"])
    # Anything with '=' is a Hydra override even when it follows --losses or --study.
    assert args.losses == ["bce", "focal", "soft_f1"]
    assert args.study == ["focal:s1"]
    assert args.overrides == ["trainer.epochs=5", "data.sample=3"]
    assert _cli().parse([]).losses is None and _cli().parse([]).study == []
    # --report takes ids; overrides after it stay overrides; --report with no id is report mode, refused later.
    args = _cli().parse(["--report", "abc", "def,ghi", "tracking.uri=sqlite:///x.db"])
    assert args.report == ["abc", "def", "ghi"] and args.overrides == ["tracking.uri=sqlite:///x.db"]
    assert _cli().parse(["--report", "tracking.uri=sqlite:///x.db"]).report == [] and _cli().parse([]).report is None


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--losses", "bce", "nosuch"], "--losses nosuch: no such loss; choose from"),
        (["--losses", "focal", "soft_f1"], "--baseline bce: not among the compared losses (focal, soft_f1)"),
        (["--study", "focal-febrl4"], "--study needs --storage"),
        (["--seeds", "0"], "--seeds must be at least 1, got 0"),
        (["trainer.epochs=0"], "trainer.epochs"),
        (["--report"], "--report needs the parent run id of at least one comparison"),
    ],
    ids=["unknown-loss", "no-baseline", "study-without-storage", "no-seed", "bad-value", "report-without-id"],
)
def test_bad_command_lines_are_one_line_and_exit_2(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        _cli().main([*argv, *_store(tmp_path)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    # Refused before anything ran: no store was created.
    assert not (tmp_path / "mlruns").exists()


def test_plan_composes_every_run_in_data_seed_loss_order(tmp_path):
    entries = [compare_runs.Entry("bce", "bce"), compare_runs.Entry("focal", "focal")]
    settings = [["data=febrl4", "data.sample=50"], ["data=synthetic", "data.n_records=200"]]
    runs = compare_runs.plan(CONF, settings, entries, [1, 2], _store(tmp_path))
    default_trainer = OmegaConf.load(CONF / "trainer" / "default.yaml")
    order = [(r.data.name, r.seed, r.entry.label) for r in runs]
    assert order == [
        ("febrl4", 1, "bce"), ("febrl4", 1, "focal"), ("febrl4", 2, "bce"), ("febrl4", 2, "focal"),
        ("synthetic", 1, "bce"), ("synthetic", 1, "focal"), ("synthetic", 2, "bce"), ("synthetic", 2, "focal"),
    ]
    for r in runs:
        # Each config: its loss and seed, the data set's overrides, and experiment=compare_losses.
        assert (r.cfg.loss.name, r.cfg.seed) == (r.entry.loss, r.seed)
        assert r.cfg.trainer.verbose == 0 and r.cfg.tracking.log_model is False
        # The default trainer (its step budget), untouched by the comparison.
        assert (r.cfg.trainer.max_steps, r.cfg.trainer.epochs) == (default_trainer.max_steps, default_trainer.epochs)
    assert runs[0].cfg.data.sample == 50 and runs[4].cfg.data.n_records == 200


def test_plan_refuses_two_data_settings_with_one_name(tmp_path):
    with pytest.raises(InputError, match="two data settings are both named 'febrl4'"):
        compare_runs.plan(CONF, [["data=febrl4"], ["data=febrl4", "data.sample=10"]], [compare_runs.Entry("bce", "bce")], [1], _store(tmp_path))


def _study(tmp_path, name: str) -> str:
    """A finished study with the sweeper's parameter names; trial 1 (value 0.8) is the best."""
    storage = f"sqlite:///{tmp_path}/studies.db"
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize")
    space = {"loss.alpha": optuna.distributions.FloatDistribution(0.05, 0.95),
             "loss.gamma": optuna.distributions.FloatDistribution(0.0, 5.0)}
    for alpha, gamma, value in ((0.25, 1.0, 0.6), (0.1, 0.5, 0.8), (0.9, 4.0, 0.7)):
        study.add_trial(optuna.trial.create_trial(params={"loss.alpha": alpha, "loss.gamma": gamma},
                                                  distributions=space, value=value))
    return storage


def test_tuned_entry_takes_the_best_trial_of_a_study(tmp_path):
    storage = _study(tmp_path, "focal-febrl4")
    entry = compare_runs.tuned_entry("focal-febrl4", storage)
    # The loss comes from the sweeps' default study name <loss>-<similarity>.
    assert (entry.label, entry.loss) == ("focal-tuned", "focal")
    assert entry.overrides == ("loss.alpha=0.1", "loss.gamma=0.5")
    assert entry.tags == {"tuned_study": "focal-febrl4", "tuned_trial": "1", "tuned_val_f1": "0.8"}
    (run,) = compare_runs.plan(CONF, [["data=febrl4"]], [entry], [1], _store(tmp_path))
    assert (run.cfg.loss.alpha, run.cfg.loss.gamma) == (0.1, 0.5)


def test_tuned_entry_needs_a_loss_it_can_tell(tmp_path):
    storage = _study(tmp_path, "my-study")
    with pytest.raises(InputError, match="cannot tell which loss it tuned .* write LOSS:STUDY"):
        compare_runs.tuned_entry("my-study", storage)
    assert compare_runs.tuned_entry("my-study", storage, loss="combined").label == "combined-tuned"
    with pytest.raises(InputError, match="--study nosuch: no such study"):
        compare_runs.tuned_entry("nosuch", storage)


def _search_frame() -> pd.DataFrame:
    rows = []
    t = pd.Timestamp("2025-01-01")
    for data, label, seed, status in [
        ("A", "bce", 1, "FINISHED"), ("A", "focal", 1, "FINISHED"), ("A", "ensemble", 1, "FINISHED"),
        ("A", "bce", 2, "FINISHED"), ("A", "focal", 2, "FAILED"),  # seed 2 has one usable member only
        ("A", "focal", 1, "FINISHED"),  # a re-run of focal seed 1: the latest counts
        ("B", "bce", 1, "FINISHED"), ("B", "soft_f1", 1, "FINISHED"), ("B", "focal", 1, "FINISHED"),
    ]:
        t += pd.Timedelta(seconds=1)
        rows.append({"run_id": f"{data}-{label}-{seed}-{t.second}", "status": status, "start_time": t, "experiment_id": "1",
                     "tags.data": data, "tags.comparison_loss": label, "tags.loss": label, "tags.seed": str(seed)})
    return pd.DataFrame(rows)


def test_ensemble_members_one_latest_finished_run_per_loss():
    groups = member_groups(_search_frame(), label_tag="comparison_loss")
    assert sorted(groups) == [("A", 1), ("B", 1)]
    assert list(groups[("A", 1)].index) == ["bce", "focal"]
    assert groups[("A", 1)].loc["focal", "run_id"] == "A-focal-1-6"
    assert list(groups[("B", 1)].index) == ["bce", "focal", "soft_f1"]
    only = member_groups(_search_frame(), label_tag="comparison_loss", labels=["bce", "soft_f1"])
    assert list(only) == [("B", 1)] and list(only[("B", 1)].index) == ["bce", "soft_f1"]
    assert compare_runs.finished_keys(_search_frame()) >= {("A", "ensemble", 1), ("B", "soft_f1", 1)}
    assert ("A", "focal", 2) not in compare_runs.finished_keys(_search_frame())


def _predictions(order, probabilities, labels=(1, 0, 0)):
    pairs = [("l1", "r1"), ("l1", "r2"), ("l2", "r3")]
    rows = [{"split": "val", "left_id": pairs[i][0], "right_id": pairs[i][1], "label": labels[i], "probability": p}
            for i, p in zip(order, probabilities)]
    return pd.DataFrame(rows)


def test_align_matches_pairs_whatever_their_order():
    a = _predictions([0, 1, 2], [0.9, 0.2, 0.1])
    b = _predictions([2, 0, 1], [0.3, 0.8, 0.4])  # same pairs, another row order
    pairs, probs = align({"a": a, "b": b}, "val")
    assert list(zip(pairs["left_id"], pairs["right_id"])) == [("l1", "r1"), ("l1", "r2"), ("l2", "r3")]
    assert probs["a"].tolist() == [0.9, 0.2, 0.1] and probs["b"].tolist() == [0.8, 0.4, 0.3]
    with pytest.raises(InputError, match="scored different val pairs"):
        align({"a": a, "c": a.iloc[:2]}, "val")
    with pytest.raises(InputError, match="disagree on val labels"):
        align({"a": a, "d": _predictions([0, 1, 2], [0.5, 0.5, 0.5], labels=(0, 1, 0))}, "val")


def test_split_predictions_counts_the_matches_blocking_missed():
    frame = _predictions([0, 1, 2], [0.9, 0.2, 0.1], labels=(1, 1, 0))
    # The run's val_matches metric says 5 matches; 2 are candidates, so 3 were never proposed.
    split = split_predictions(frame, "val", 5.0)
    assert split.missed == 3 and split.y.tolist() == [1, 1, 0] and np.allclose(split.p, [0.9, 0.2, 0.1])
    assert split_predictions(frame, "val", None).missed == 0


def test_parent_params_hold_no_path_of_this_machine(tmp_path):
    entries = [compare_runs.Entry("bce", "bce")]
    runs = compare_runs.plan(CONF, [["data=febrl4"]], entries, [1, 2], _store(tmp_path))
    common = [*_store(tmp_path), "trainer.epochs=3", f"paths.output_dir={tmp_path}/out"]
    params = compare_runs.parent_params(runs, common, ROOT, quick=False)
    assert params == {"losses": "bce", "seeds": "1, 2", "data": "febrl4", "runs": "2", "quick": "False",
                      "overrides": "trainer.epochs=3", "data.febrl4": "data=febrl4"}
    # An absolute path outside the project shows as its last part.
    assert compare_runs._portable_override(f"data.left={tmp_path}/people/left.csv", ROOT) == "data.left=left.csv"
