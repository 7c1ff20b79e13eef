"""Develop the benchmark recipe: ``similarity=auto`` features, then gradient boosting and Keras models.

For each DeepMatcher-format directory (tableA/B.csv, train/valid/test.csv) this script

1. infers the similarity map from the tables (``similarity=auto``) and computes the features of
   every labelled pair (timed);
2. trains scikit-learn's HistGradientBoostingClassifier (the reference row) and Keras models on
   the same features: the MLP over rank-scaled inputs and the attribute-aware model, with a
   budget of optimizer steps (not epochs), a batch size from the set's size, early stopping on
   validation PR-AUC with the best weights restored;
3. chooses each model's threshold on **valid** only and prints valid and test F1 (test is
   reported, never used to choose anything).

``--variant dirty`` moves each non-title attribute value into the title with probability 0.5
(as the DeepMatcher dirty sets were made), ``--variant textual`` joins all attributes into one
long text column: both check that the recipe holds on the other kinds of benchmark sets.

    python bench/features_dev.py DIR [DIR ...] [--models hgb,mlp,attribute] [--seeds 1,2,3,4,5]
        [--loss bce] [--variant none|dirty|textual] [--show-map]

Prints one line per set, model and seed, then per set and model the mean and sd over seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import average_precision_score

from lossmatch.data.deepmatcher import DeepMatcherSource
from lossmatch.metrics import best_f1_threshold, evaluate
from lossmatch.similarity.auto import resolve_similarity_map

SPLITS = ("train", "val", "test")


# ----------------------------------------------------------------------------- data and variants


def dirty(table: pd.DataFrame, rng: np.random.Generator, id_column: str = "id") -> pd.DataFrame:
    """Move each non-title value into the title (the first attribute) with probability 0.5."""
    table = table.copy()
    attributes = [c for c in table.columns if c != id_column]
    title, others = attributes[0], attributes[1:]
    table[title] = table[title].astype(object)
    for column in others:
        table[column] = table[column].astype(object)
        move = (rng.random(len(table)) < 0.5) & table[column].notna()
        joined = table.loc[move, title].fillna("").astype(str) + " " + table.loc[move, column].astype(str)
        table.loc[move, title] = joined.str.strip()
        table.loc[move, column] = np.nan
    return table


def textual(table: pd.DataFrame, id_column: str = "id") -> pd.DataFrame:
    """All attributes joined into one long text column."""
    attributes = [c for c in table.columns if c != id_column]
    text = table[attributes].astype(object).apply(
        lambda row: " ".join(str(v) for v in row if pd.notna(v) and str(v).strip()), axis=1)
    return pd.DataFrame({id_column: table[id_column], "text": text})


def load(path: str, variant: str, seed: int):
    data = DeepMatcherSource(path=path).load()
    left, right = data.left, data.right
    if variant == "dirty":
        rng = np.random.default_rng(seed)
        left, right = dirty(left, rng), dirty(right, rng)
    elif variant == "textual":
        left, right = textual(left), textual(right)
    return data.name, left, right, data.labelled_pairs


def features(left: pd.DataFrame, right: pd.DataFrame, pairs: dict[str, pd.DataFrame], config: dict):
    start = time.perf_counter()
    similarity_map = resolve_similarity_map({"auto": True, **config}, left, right, ignore=["id"])
    inferred = time.perf_counter() - start
    all_pairs = pd.concat([pairs[s] for s in SPLITS], ignore_index=True)
    X = similarity_map.transform(left, right, all_pairs["left"].to_numpy(), all_pairs["right"].to_numpy())
    seconds = time.perf_counter() - start
    bounds = np.cumsum([0] + [len(pairs[s]) for s in SPLITS])
    split_X = {s: X[bounds[i]:bounds[i + 1]] for i, s in enumerate(SPLITS)}
    split_y = {s: pairs[s]["label"].to_numpy(np.float32) for s in SPLITS}
    return similarity_map, split_X, split_y, inferred, seconds


# ----------------------------------------------------------------------------- models


def fit_hgb(X, y, seed: int):
    model = HistGradientBoostingClassifier(max_iter=300, learning_rate=0.05, max_leaf_nodes=15,
                                           l2_regularization=1.0, early_stopping=False, random_state=seed)
    model.fit(X["train"], y["train"])
    return {s: model.predict_proba(X[s])[:, 1] for s in ("val", "test")}


def batch_size_for(n_train: int) -> int:
    """A power of two near n / 64, in [16, 256]: about 64 optimizer steps per epoch on small sets."""
    return int(np.clip(2 ** round(np.log2(max(n_train, 1) / 64)), 16, 256))


class BestValidation:
    """Validation average precision after each round of steps; best weights kept; stop after a patience.

    Stops only once ``min_steps`` optimizer steps are done and the score has not improved for
    ``patience_steps`` steps; the caller restores ``weights`` at the end.
    """

    def __init__(self, X_val, y_val, *, steps_per_round: int, min_steps: int, patience_steps: int):
        import keras

        outer = self

        class _Callback(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                outer.on_round_end(self.model, epoch)

        self.callback = _Callback()
        self.X_val, self.y_val = X_val, y_val
        self.steps_per_round, self.min_steps, self.patience_steps = steps_per_round, min_steps, patience_steps
        self.best, self.best_round, self.weights = -np.inf, -1, None

    def on_round_end(self, model, round_: int) -> None:
        import keras

        # A direct call: model.predict builds a dataset each time, too slow for many small rounds.
        p = keras.ops.convert_to_numpy(model(self.X_val, training=False)).reshape(-1)
        ap = average_precision_score(self.y_val, p) if self.y_val.sum() else -float(np.mean(p))
        if ap > self.best + 1e-6:
            self.best, self.best_round, self.weights = ap, round_, model.get_weights()
        steps = (round_ + 1) * self.steps_per_round
        if steps >= self.min_steps and (round_ - self.best_round) * self.steps_per_round >= self.patience_steps:
            model.stop_training = True


def fit_steps(model, X_train, y_train, X_val, y_val, *, loss, seed: int, min_steps: int = 1500,
              max_steps: int = 4000, patience_steps: int = 1000, eval_every: int = 100,
              batch_size: int | None = None, learning_rate: float = 1e-3, class_weight=None) -> dict:
    """Train for a budget of optimizer steps, validating every ``eval_every`` steps or so."""
    import keras

    from lossmatch.scaling import adapt_scaling, split_scaling

    adapt_scaling(model, X_train)
    # Scale once, then fit the network after the scaling layer (it shares the model's weights).
    scaling, network = split_scaling(model)
    if scaling is not None:
        X_train, X_val = (keras.ops.convert_to_numpy(scaling(X)) for X in (X_train, X_val))
        model = network
    batch_size = batch_size or batch_size_for(len(X_train))
    steps_per_epoch = int(np.ceil(len(X_train) / batch_size))
    # One Keras "epoch" = several passes over a small training set, so validation runs every
    # eval_every steps or so, not after each of a few steps.
    passes = max(1, round(eval_every / steps_per_epoch))
    X_round, y_round = np.tile(X_train, (passes, 1)), np.tile(y_train, passes)
    steps_per_round = int(np.ceil(len(X_round) / batch_size))
    tracker = BestValidation(X_val, y_val, steps_per_round=steps_per_round, min_steps=min_steps,
                             patience_steps=patience_steps)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss)
    if class_weight == "balanced":
        positives = float(y_train.mean())
        class_weight = {0: 0.5 / (1 - positives), 1: 0.5 / positives}
    model.fit(X_round, y_round, batch_size=batch_size, epochs=int(np.ceil(max_steps / steps_per_round)),
              verbose=0, shuffle=True, callbacks=[tracker.callback], class_weight=class_weight)
    model.set_weights(tracker.weights)
    return {"best_step": (tracker.best_round + 1) * steps_per_round, "batch_size": batch_size,
            "val_ap": tracker.best}


def fit_keras(kind: str, X, y, seed: int, loss_name: str, names: list[str], **options):
    import keras

    from lossmatch.model import build_mlp
    from lossmatch.model_attribute import build_attribute_model

    model_options = {"scaling": "search", **options.get("model", {})}
    # "search": one network per scaling, the one with the better validation PR-AUC is kept (rank
    # scaling suits small sets with many tied values, standard scaling larger ones; valid decides).
    scalings = ["rank", "standard"] if model_options["scaling"] == "search" else [model_options["scaling"]]
    n_features = X["train"].shape[1]
    # An ensemble averages the probabilities of several networks trained from different seeds.
    members = int(options.get("ensemble", 1))
    predictions = {"val": 0.0, "test": 0.0}
    for member in range(members):
        best = None
        for scaling in scalings:
            keras.utils.set_random_seed(seed * 1000 + member)
            member_options = {**model_options, "scaling": scaling}
            if kind == "mlp":
                model = build_mlp(n_features, **{"hidden_units": (64, 32), "dropout": 0.1, **member_options})
            else:
                model = build_attribute_model(n_features, feature_names=names, **member_options)
            fitted = fit_steps(model, X["train"], y["train"], X["val"], y["val"], loss=_loss(loss_name),
                               seed=seed, **options.get("fit", {}))
            if best is None or fitted["val_ap"] > best[0]:
                best = (fitted["val_ap"], model)
        for split, total in predictions.items():
            predictions[split] = total + best[1].predict(X[split], batch_size=4096, verbose=0).reshape(-1) / members
    return predictions


def _loss(name: str):
    from lossmatch import losses

    return {"bce": losses.bce_loss, "focal": losses.focal_loss, "soft_f1": losses.soft_f1_loss,
            "combined": losses.combined_loss}[name]()


def score(y, p) -> dict:
    threshold = best_f1_threshold(y["val"], p["val"])
    val = evaluate(y["val"], p["val"], threshold)
    test = evaluate(y["test"], p["test"], threshold)
    return {"val_f1": val["f1"], "val_ap": float(average_precision_score(y["val"], p["val"])),
            "test_f1": test["f1"], "test_precision": test["precision"], "test_recall": test["recall"],
            "threshold": threshold}


# ----------------------------------------------------------------------------- main


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dirs", nargs="+")
    parser.add_argument("--models", default="hgb,mlp")
    parser.add_argument("--seeds", default="1")
    parser.add_argument("--loss", default="bce")
    parser.add_argument("--variant", default="none", choices=["none", "dirty", "textual"])
    parser.add_argument("--options", default="{}",
                        help="JSON: {model: {...}, fit: {...}, loss: name} for the Keras models, or a list of such")
    parser.add_argument("--similarity", default="{}",
                        help="JSON: similarity config beside auto=true, e.g. {\"map\": {\"*\": [tfidf_word]}} "
                             "(hand-written entries that replace the inferred ones) or {\"auto_options\": {...}}")
    parser.add_argument("--show-map", action="store_true")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    models = args.models.split(",")
    options = json.loads(args.options)
    # A list of option sets runs each Keras model once per set, labelled model#0, model#1, ...
    option_sets = options if isinstance(options, list) else [options]
    rows = []
    for directory in args.dirs:
        name, left, right, pairs = load(directory, args.variant, seed=0)
        similarity_map, X, y, inferred, seconds = features(left, right, pairs, json.loads(args.similarity))
        if args.show_map:
            import yaml

            print(yaml.safe_dump({"map": similarity_map.to_dict()}, sort_keys=False, default_flow_style=None))
        print(f"{name} ({args.variant}): {sum(len(v) for v in y.values())} pairs, "
              f"{int(sum(v.sum() for v in y.values()))} positives, {X['train'].shape[1]} features, "
              f"map inferred in {inferred:.2f} s, features in {seconds:.2f} s", flush=True)
        runs = [(m, {}) for m in models if m == "hgb"] + [
            (m if len(option_sets) == 1 else f"{m}#{i}", o)
            for m in models if m != "hgb" for i, o in enumerate(option_sets)]
        for model, model_options in runs:
            for seed in seeds:
                start = time.perf_counter()
                if model == "hgb":
                    p = fit_hgb(X, y, seed)
                else:
                    loss = model_options.get("loss", args.loss)
                    p = fit_keras(model.split("#")[0], X, y, seed, loss, similarity_map.feature_names,
                                  **{k: v for k, v in model_options.items() if k != "loss"})
                row = {"set": name, "model": model, "seed": seed, **score(y, p),
                       "seconds": time.perf_counter() - start}
                rows.append(row)
                print(f"  {model:10s} seed {seed}: val F1 {row['val_f1']:.3f} (AP {row['val_ap']:.3f})  "
                      f"test F1 {row['test_f1']:.3f} P {row['test_precision']:.3f} R {row['test_recall']:.3f}  "
                      f"{row['seconds']:.1f} s", flush=True)
    table = pd.DataFrame(rows)
    summary = table.groupby(["set", "model"], sort=False).agg(
        val_f1=("val_f1", "mean"), test_f1=("test_f1", "mean"), test_f1_sd=("test_f1", "std"),
        seconds=("seconds", "mean"), runs=("seed", "count"))
    print(summary.round(4).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
