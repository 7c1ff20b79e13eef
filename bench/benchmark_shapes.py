"""The benchmark recipe at the size of the largest DeepMatcher sets: seconds per phase, peak RSS, PASS/FAIL.

Issue 11 scores ``python train.py experiment=benchmark data=deepmatcher data.path=DIR`` on sets of
the DeepMatcher benchmark that are not in the repository, in under 3 minutes per set on 2 CPU
cores. The four development sets hold at most 12k pairs of short values; the hidden ones include
far bigger shapes (Mudgal et al., SIGMOD 2018). Nothing can be downloaded here, so this script
writes seeded synthetic sets of those shapes in the DeepMatcher format (tableA.csv, tableB.csv,
train / valid / test.csv with ltable_id, rtable_id, label, split 3:1:1 as the official sets are):

==============  ========  ========  =======  ==================================================
shape           pairs     matches   tables   values
==============  ========  ========  =======  ==================================================
company         112,632   28,200    28,200   one attribute ``content``: long text (``--words``
                                    x2       per record, default 600), Zipf vocabulary; a match
                                             shares a good part of the words, not their order
                                             nor the length (Wikipedia article vs web page)
dblp-scholar    28,707    5,347     2,616 /  title, authors, venue, year; the right table has
                                    64,263   noisy duplicates (abbreviated names, missing venue
                                             and year); ``dirty-dblp-scholar`` moves values into
                                             the title as bench/variant_sets.py does
walmart-amazon  10,242    962       2,554 /  title, category, brand, modelno, price
                                    22,074
==============  ========  ========  =======  ==================================================

Then it runs the recipe on each set, each in a fresh process (so that peak RSS is the run's own),
through ``lossmatch.cli.main`` exactly as ``train.py`` does, with ``trainer.verbose=0`` and a
temporary MLflow store (and so an empty feature cache), and prints seconds per phase (the
pipeline's stages, timed by wrapping them as ``bench/run_phases.py`` does; ``start-up`` is the
imports, the command-line checks and Hydra), the slowest similarities of the features stage,
peak RSS and PASS / FAIL against 180 s. ``--reference SHAPE`` also times ``pipelines/benchmark.py``
on that set (one seed and its gradient-boosting reference row), for information; ``--base REF``
runs each set again with the code of a git ref (``git archive`` of its ``src/``), one after the
other, and prints the ratio of seconds and of peak RSS.

    python bench/benchmark_shapes.py [--shapes company,dblp-scholar] [--words 600] [--scale 1.0]
        [--workdir DIR] [--reference SHAPE] [--base main] [--limit 180] [-- overrides for every run]
    python bench/benchmark_shapes.py --write-only --workdir DIR      # only write the sets

``--scale`` multiplies every count (0.1 for a quick look). Seconds depend on the machine's load:
compare phases within one output; the lead re-runs it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
LIMIT_SECONDS = 180.0
# The official sets are split 3:1:1 into train / valid / test.
SPLIT_SHARES = {"train": 0.6, "valid": 0.2, "test": 0.2}
PHASES = ("start-up", "prepare (load, checks)", "infer map", "features", "fit", "evaluate", "log", "other")


# ----------------------------------------------------------------------------- synthetic words


def pseudo_words(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct lower-case pseudo-words of 2 to 11 letters (syllables, so n-grams repeat as in text)."""
    syllables = np.array([c + v for c in "bcdfghklmnprstvwz" for v in "aeiou"] + list("aeiou"))
    words: dict[str, None] = {}
    while len(words) < n:
        lengths = rng.integers(1, 5, size=n)
        picks = rng.integers(0, len(syllables), size=(n, 4))
        for length, row in zip(lengths, picks):
            words.setdefault("".join(syllables[row[:length]]), None)
            if len(words) == n:
                break
    return np.array(list(words), dtype=object)


def zipf_probabilities(n: int, exponent: float = 1.05) -> np.ndarray:
    """Word ranks 1..n drawn with probability proportional to rank ** -exponent (Zipf's law of text)."""
    p = np.arange(1, n + 1, dtype=np.float64) ** -exponent
    return p / p.sum()


def zipf_draw(cdf: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` word ranks drawn from the cumulative probabilities ``cdf`` (faster than ``rng.choice(p=...)``
    per record, which sums ``p`` again on every call)."""
    return np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(cdf) - 1)


def _join(vocabulary: np.ndarray, ids: np.ndarray) -> str:
    return " ".join(vocabulary[ids].tolist())


# ----------------------------------------------------------------------------- shapes


@dataclass(frozen=True)
class Shape:
    """Counts of one DeepMatcher set (Mudgal et al. 2018, Table 2)."""

    name: str
    n_left: int
    n_right: int
    n_pairs: int
    n_matches: int

    def scaled(self, scale: float) -> Shape:
        def at_least(value: int, floor: int) -> int:
            return max(floor, round(value * scale))

        n_left = at_least(self.n_left, 10)
        n_matches = at_least(self.n_matches, 10)
        return Shape(self.name, n_left, at_least(self.n_right, 10), max(at_least(self.n_pairs, 20), n_matches + 10),
                     n_matches)


SHAPES = {
    "company": Shape("company", 28_200, 28_200, 112_632, 28_200),
    "dblp-scholar": Shape("dblp-scholar", 2_616, 64_263, 28_707, 5_347),
    "dirty-dblp-scholar": Shape("dirty-dblp-scholar", 2_616, 64_263, 28_707, 5_347),
    "walmart-amazon": Shape("walmart-amazon", 2_554, 22_074, 10_242, 962),
}


def _pairs(matches: np.ndarray, negatives: np.ndarray, rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    """Shuffle the labelled pairs and cut them 3:1:1 into train / valid / test, matches and non-matches
    alike (so that a small scaled set still has matches in every split)."""
    splits = {s: [] for s in SPLIT_SHARES}
    for label, rows in ((1, matches), (0, negatives)):
        rows = rows[rng.permutation(len(rows))]
        cuts = np.cumsum([0] + [round(share * len(rows)) for share in SPLIT_SHARES.values()])
        cuts[-1] = len(rows)
        for i, s in enumerate(SPLIT_SHARES):
            part = pd.DataFrame(rows[cuts[i]:cuts[i + 1]], columns=["ltable_id", "rtable_id"])
            splits[s].append(part.assign(label=label))
    return {s: (lambda f: f.iloc[rng.permutation(len(f))].reset_index(drop=True))(pd.concat(parts, ignore_index=True))
            for s, parts in splits.items()}


def _negatives(left_ids: np.ndarray, right_pool: dict[int, np.ndarray], n: int, matched: set,
               n_right: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` non-matching pairs: a right record of the same group (a hard negative, as blocking gives) or any."""
    rows = []
    while len(rows) < n:
        left = int(rng.choice(left_ids))
        pool = right_pool.get(left)
        right = int(rng.choice(pool)) if pool is not None and len(pool) and rng.random() < 0.8 \
            else int(rng.integers(n_right))
        if (left, right) not in matched:
            matched.add((left, right))
            rows.append((left, right))
    return np.array(rows, dtype=np.int64).reshape(-1, 2)


def company(shape: Shape, rng: np.random.Generator, *, words: int = 600, vocabulary: int = 60_000,
            topics: int = 400) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, pd.DataFrame]]:
    """Long texts about companies: each left record has one match on the right.

    A company is a few name words of its own plus text drawn from a Zipf vocabulary, a fifth of
    it from its topic's (industry's) words. Its right record keeps about half of the left words
    in another order, adds words of its own and has 0.4 to 1.6 times the length. Non-matches pair
    a company mostly with another of its topic (hard ones, as blocking gives).
    """
    vocab = pseudo_words(vocabulary, rng)
    p = zipf_probabilities(vocabulary)
    cdf = np.cumsum(p)
    topic_of = rng.integers(topics, size=shape.n_left)
    topic_words = rng.choice(vocabulary, size=(topics, 200), p=p[::-1] / p.sum())  # mid/rare words per topic
    names = rng.integers(vocabulary // 2, vocabulary, size=(shape.n_left, 3))

    def text(entity: int, length: int) -> np.ndarray:
        n_topic = length // 5
        body = zipf_draw(cdf, length - n_topic - 3, rng)
        return np.concatenate([names[entity], rng.choice(topic_words[topic_of[entity]], size=n_topic), body])

    lengths = np.maximum(20, rng.lognormal(np.log(words), 0.5, size=shape.n_left).astype(int))
    left_ids = [text(e, n) for e, n in enumerate(lengths)]
    right_texts = []
    for e, ids in enumerate(left_ids):
        length = max(20, int(len(ids) * rng.uniform(0.4, 1.6)))
        kept = rng.permutation(ids)[: int(length * rng.uniform(0.4, 0.6))]
        own = text(e, max(5, length - len(kept)))[3:]  # the same topic, other words
        right_texts.append(_join(vocab, rng.permutation(np.concatenate([kept, own]))))
    # Right records of companies past n_left (when the right table is larger) are other companies.
    for _ in range(shape.n_right - shape.n_left):
        right_texts.append(_join(vocab, zipf_draw(cdf, int(rng.lognormal(np.log(words), 0.5)), rng)))
    left = pd.DataFrame({"id": np.arange(shape.n_left), "content": [_join(vocab, ids) for ids in left_ids]})
    right_order = rng.permutation(shape.n_right)  # right ids do not follow left ids
    right = pd.DataFrame({"id": np.arange(shape.n_right), "content": np.array(right_texts, dtype=object)[np.argsort(right_order)]})
    n_matches = min(shape.n_matches, shape.n_left)
    matched_left = rng.choice(shape.n_left, size=n_matches, replace=False)
    matches = np.c_[matched_left, right_order[matched_left]]
    by_topic = {t: right_order[np.flatnonzero(topic_of == t)] for t in range(topics)}
    pool = {e: by_topic[topic_of[e]] for e in range(shape.n_left)}
    negatives = _negatives(np.arange(shape.n_left), pool, shape.n_pairs - n_matches,
                           set(map(tuple, matches.tolist())), shape.n_right, rng)
    return left, right, _pairs(matches, negatives, rng)


def _initial(name: str) -> str:
    return name[0] + "."


def dblp_scholar(shape: Shape, rng: np.random.Generator, *, dirty: bool = False
                 ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, pd.DataFrame]]:
    """Papers: DBLP (left, clean) against Google Scholar (right, large, noisy, with duplicates).

    Each left paper has one to four right versions (a match each), titles with dropped or
    misspelt words, authors abbreviated to initials, venue and year often missing. The rest
    of the right table are other papers of the same topics. Non-matches mostly share a topic.
    """
    vocab = pseudo_words(8_000, rng)
    p = zipf_probabilities(len(vocab), 0.9)
    surnames = pseudo_words(20_000, rng)
    venues = np.array([f"{w.upper()[:4]} {y}" for w, y in zip(pseudo_words(300, rng), rng.integers(1, 30, 300))])
    topics = 200
    n_papers = shape.n_left + (shape.n_right - shape.n_matches)  # left papers + right-only papers
    topic = rng.integers(topics, size=n_papers)
    topic_words = rng.choice(len(vocab), size=(topics, 40), p=p)

    def paper(i: int) -> dict:
        n = int(rng.integers(5, 14))
        words = np.where(rng.random(n) < 0.4, rng.choice(topic_words[topic[i]], size=n), rng.choice(len(vocab), size=n, p=p))
        authors = [f"{_join(vocab, rng.integers(len(vocab), size=1)).capitalize()} {s.capitalize()}"
                   for s in rng.choice(surnames, size=int(rng.integers(1, 5)))]
        return {"title": _join(vocab, words), "authors": ", ".join(authors),
                "venue": str(rng.choice(venues)), "year": int(rng.integers(1994, 2004))}

    def scholar(record: dict) -> dict:
        words = record["title"].split()
        keep = [w if rng.random() > 0.05 else w[:-1] for w in words if rng.random() > 0.1] or words
        authors = [f"{_initial(a.split()[0])} {a.split()[1]}" for a in record["authors"].split(", ")]
        return {"title": " ".join(keep), "authors": ", ".join(authors[: int(rng.integers(1, len(authors) + 1))]),
                "venue": record["venue"] if rng.random() < 0.35 else None,
                "year": record["year"] if rng.random() < 0.5 else None}

    papers = [paper(i) for i in range(n_papers)]
    left = pd.DataFrame(papers[: shape.n_left])
    # Versions per left paper: n_matches spread over the left papers (each at least one while they last).
    versions = np.bincount(np.r_[np.arange(min(shape.n_left, shape.n_matches)),
                                 rng.integers(shape.n_left, size=max(0, shape.n_matches - shape.n_left))],
                           minlength=shape.n_left)
    right_rows, owner = [], []
    for i, count in enumerate(versions):
        right_rows += [scholar(papers[i]) for _ in range(count)]
        owner += [i] * count
    for i in range(shape.n_left, n_papers):
        right_rows.append(scholar(papers[i]))
        owner.append(i)
    right = pd.DataFrame(right_rows).iloc[: shape.n_right]
    owner = np.array(owner[: shape.n_right])
    order = rng.permutation(len(right))  # row r of the table is generated record order[r]
    right = right.iloc[order].reset_index(drop=True)
    owner = owner[order]
    for frame in (left, right):
        frame.insert(0, "id", np.arange(len(frame)))
        frame["year"] = frame["year"].astype("Int64")
    if dirty:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from features_dev import dirty as make_dirty

        left, right = make_dirty(left, rng), make_dirty(right, rng)
    matches = np.c_[owner[owner < shape.n_left], np.flatnonzero(owner < shape.n_left)]
    by_topic = {t: np.flatnonzero(topic[owner] == t) for t in range(topics)}
    pool = {i: by_topic[topic[i]] for i in range(shape.n_left)}
    negatives = _negatives(np.arange(shape.n_left), pool, shape.n_pairs - len(matches),
                           set(map(tuple, matches.tolist())), len(right), rng)
    return left, right, _pairs(matches, negatives, rng)


def walmart_amazon(shape: Shape, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, pd.DataFrame]]:
    """Products: title, category, brand, modelno, price; a match shares the model number most of the time."""
    vocab = pseudo_words(6_000, rng)
    p = zipf_probabilities(len(vocab))
    brands, categories = pseudo_words(400, rng), pseudo_words(60, rng)
    n_products = shape.n_left + shape.n_right - shape.n_matches
    brand = rng.integers(len(brands), size=n_products)

    def product(i: int, noisy: bool) -> dict:
        r = np.random.default_rng([i, 7])  # the same product's own words on both sides
        title = _join(vocab, r.choice(len(vocab), size=int(r.integers(4, 12)), p=p))
        model = f"{_join(vocab, r.integers(len(vocab), size=1))[:3]}{r.integers(100, 9999)}".upper()
        price = round(float(r.lognormal(4, 1)), 2)
        if noisy:
            title = " ".join(w for w in title.split() if rng.random() > 0.2)
            price = round(price * rng.uniform(0.9, 1.1), 2)
        return {"title": f"{brands[brand[i]]} {title} {model if rng.random() < 0.5 else ''}".strip(),
                "category": str(categories[brand[i] % len(categories)]),
                "brand": brands[brand[i]] if rng.random() < 0.8 else None,
                "modelno": model if rng.random() < 0.7 else None, "price": price if rng.random() < 0.8 else None}

    left = pd.DataFrame([product(i, False) for i in range(shape.n_left)])
    matched_left = rng.choice(shape.n_left, size=shape.n_matches, replace=False)
    right_owner = np.r_[matched_left, np.arange(shape.n_left, n_products)][: shape.n_right]
    order = rng.permutation(len(right_owner))
    right_owner = right_owner[order]
    right = pd.DataFrame([product(int(i), True) for i in right_owner])
    for frame in (left, right):
        frame.insert(0, "id", np.arange(len(frame)))
    matches = np.c_[right_owner[right_owner < shape.n_left], np.flatnonzero(right_owner < shape.n_left)]
    by_brand = {b: np.flatnonzero(brand[right_owner] == b) for b in range(len(brands))}
    pool = {i: by_brand[brand[i]] for i in range(shape.n_left)}
    negatives = _negatives(np.arange(shape.n_left), pool, shape.n_pairs - len(matches),
                           set(map(tuple, matches.tolist())), len(right), rng)
    return left, right, _pairs(matches, negatives, rng)


def write_shape(name: str, out: Path, *, scale: float = 1.0, words: int = 600, seed: int = 0) -> Path:
    """Write the synthetic set ``name`` (a key of :data:`SHAPES`) under ``out/<name>``; returns the folder."""
    if name not in SHAPES:
        raise ValueError(f"unknown shape {name!r}; known: {', '.join(SHAPES)}")
    shape = SHAPES[name].scaled(scale)
    rng = np.random.default_rng(seed)
    if name == "company":
        left, right, pairs = company(shape, rng, words=words)
    elif name == "walmart-amazon":
        left, right, pairs = walmart_amazon(shape, rng)
    else:
        left, right, pairs = dblp_scholar(shape, rng, dirty=name.startswith("dirty-"))
    folder = Path(out) / name
    folder.mkdir(parents=True, exist_ok=True)
    left.to_csv(folder / "tableA.csv", index=False)
    right.to_csv(folder / "tableB.csv", index=False)
    for split, frame in pairs.items():
        frame.to_csv(folder / f"{split}.csv", index=False)
    return folder


# ----------------------------------------------------------------------------- one run, in a child process


def _child_run(argv: list[str]) -> None:
    """Run ``train.py``'s main with the pipeline's stages timed; write the seconds to $SHAPES_PHASES_FILE."""
    import contextlib
    import dataclasses

    os.environ.setdefault("PROJECT_ROOT", str(ROOT))
    from lossmatch import pipeline
    from lossmatch.cli import main
    from lossmatch.similarity import auto
    from lossmatch.similarity import map as map_module

    clock: dict[str, float] = {}
    features: dict[str, float] = {}
    marks = {"prepare starts": 0.0}

    @contextlib.contextmanager
    def phase(name: str, into: dict):
        start = time.perf_counter()
        try:
            yield
        finally:
            into[name] = into.get(name, 0.0) + time.perf_counter() - start

    def timed(owner, attribute: str, label: str, into: dict = clock, first: str | None = None):
        original = getattr(owner, attribute)

        def wrapper(*args, **kwargs):
            if first and not marks[first]:
                marks[first] = time.time()
            with phase(label, into):
                return original(*args, **kwargs)

        setattr(owner, attribute, wrapper)

    # The pipeline's stages (as bench/run_phases.py times them), map inference apart from prepare.
    stages = {"prepare": "prepare (load, checks)", "compute_features": "features", "fit": "fit",
              "evaluate": "evaluate", "start": "log", "finish": "log"}
    for stage, label in stages.items():
        timed(pipeline, stage, label, first="prepare starts" if stage == "prepare" else None)
    timed(auto, "resolve_similarity_map", "infer map")
    # Which similarities the features stage spends its time on (summed over the map's keys).
    timed(map_module, "context_features", "table context", into=features)
    get_similarity = map_module.get_similarity

    def timed_similarity(name):
        similarity = get_similarity(name)
        changes = {}
        for field in ("compute", "vectors"):
            function = getattr(similarity, field)
            if function is not None:
                def wrapper(*args, _function=function, **kwargs):
                    with phase(similarity.name, features):
                        return _function(*args, **kwargs)

                changes[field] = wrapper
        return dataclasses.replace(similarity, **changes)

    map_module.get_similarity = timed_similarity

    def train(cfg):
        from lossmatch.cli import objective

        result = pipeline.run(cfg)
        clock["test F1"] = result["test"]["f1"]
        return objective(result, cfg)

    try:
        main(train, config_dir=ROOT / "conf", config_name="train", argv=argv)
    finally:
        clock["prepare (load, checks)"] = clock.get("prepare (load, checks)", 0.0) - clock.get("infer map", 0.0)
        Path(os.environ["SHAPES_PHASES_FILE"]).write_text(json.dumps(
            {"phases": clock, "features": features, "prepare_started": marks["prepare starts"]}))


def _run_child(command: list[str], env: dict, log: Path) -> tuple[int, float, float, float]:
    """Run ``command``; return its exit status, wall seconds, start time and peak RSS in bytes (``wait4``)."""
    started, start = time.time(), time.perf_counter()
    with open(log, "w") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, time.perf_counter() - start, started, usage.ru_maxrss * 1024.0


def run_recipe(folder: Path, workdir: Path, overrides: list[str], src: Path | None = None) -> dict:
    """The benchmark recipe on ``folder`` in a fresh process: seconds per phase, peak RSS, exit status."""
    store = Path(tempfile.mkdtemp(prefix=f"{folder.name}-", dir=workdir))
    phases_file = store / "phases.json"
    env = {**os.environ, "SHAPES_PHASES_FILE": str(phases_file), "PYTHONPATH": _pythonpath(src),
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    argv = ["experiment=benchmark", "data=deepmatcher", f"data.path={folder}", "trainer.verbose=0",
            f"paths.mlruns_dir={store}/mlruns", f"paths.output_dir={store}/outputs", *overrides]
    command = [sys.executable, str(Path(__file__).resolve()), "--child", "--", *argv]
    status, wall, started, rss = _run_child(command, env, store / "run.log")
    timings = json.loads(phases_file.read_text()) if phases_file.exists() else {"phases": {}, "features": {}}
    phases = {name: seconds for name, seconds in timings["phases"].items() if name in PHASES}
    if timings.get("prepare_started"):
        phases["start-up"] = timings["prepare_started"] - started
    phases["other"] = wall - sum(phases.values())
    return {"set": folder.name, "status": status, "seconds": wall, "rss": rss, "phases": phases,
            "features": timings["features"], "test_f1": timings["phases"].get("test F1"), "log": store / "run.log"}


def run_reference(folder: Path, workdir: Path, overrides: list[str]) -> dict:
    """``pipelines/benchmark.py`` on ``folder`` with one seed and its reference row: wall seconds, peak RSS."""
    store = Path(tempfile.mkdtemp(prefix=f"{folder.name}-pipeline-", dir=workdir))
    env = {**os.environ, "PYTHONPATH": _pythonpath(), "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, str(ROOT / "pipelines" / "benchmark.py"), str(folder), "--seeds", "1",
               "--output", str(store / "table"), "trainer.verbose=0", f"paths.mlruns_dir={store}/mlruns",
               f"paths.output_dir={store}/outputs", *overrides]
    status, wall, _, rss = _run_child(command, env, store / "run.log")
    return {"set": folder.name, "status": status, "seconds": wall, "rss": rss, "log": store / "run.log"}


def _pythonpath(src: Path | None = None) -> str:
    # This checkout's code (or ``src``), whatever the editable install points at.
    return os.pathsep.join(p for p in (str(src or ROOT / "src"), os.environ.get("PYTHONPATH", "")) if p)


def counts(folder: Path) -> dict:
    """Pairs, matches and table rows of a DeepMatcher-format folder."""
    pairs = pd.concat([pd.read_csv(folder / f"{s}.csv") for s in SPLIT_SHARES])
    rows = [sum(1 for _ in open(folder / t, encoding="utf-8")) - 1 for t in ("tableA.csv", "tableB.csv")]
    return {"pairs": len(pairs), "matches": int(pairs["label"].sum()), "left": rows[0], "right": rows[1]}


def report(folder: Path, result: dict, limit: float) -> str:
    size = counts(folder)
    verdict = "PASS" if result["status"] == 0 and result["seconds"] < limit else "FAIL"
    if result["status"] != 0:
        verdict += f" (exit status {result['status']}, log {result['log']})"
    lines = [f"{result['set']}: {size['pairs']:,} pairs ({size['matches']:,} matches), tables "
             f"{size['left']:,} x {size['right']:,}"]
    lines += [f"  {name:24s}{result['phases'].get(name, 0.0):8.1f} s" for name in PHASES]
    lines.append(f"  {'total':24s}{result['seconds']:8.1f} s   peak RSS {result['rss'] / 2**30:.2f} GiB   "
                 f"test F1 {result['test_f1'] if result['test_f1'] is None else round(result['test_f1'], 3)}   "
                 f"{verdict} against {limit:.0f} s")
    if "load" in result:
        lines.append(f"  load average (1 min) {result['load'][0]:.2f} at the start, {result['load'][1]:.2f} at the end "
                     "(2 cores: above 2, other work shared them)")
    slowest = sorted(result["features"].items(), key=lambda kv: -kv[1])[:6]
    if slowest:
        lines.append("  features by similarity: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in slowest))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        _child_run(argv[2:] if argv[1:2] == ["--"] else argv[1:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="company,dblp-scholar",
                        help=f"comma-separated, of: {', '.join(SHAPES)}")
    parser.add_argument("--words", type=int, default=600, help="mean words per company record")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every count (0.1: a quick look)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None, help="where the sets and runs go (default: a temp folder)")
    parser.add_argument("--limit", type=float, default=LIMIT_SECONDS)
    parser.add_argument("--reference", default=None, metavar="SHAPE",
                        help="also time pipelines/benchmark.py (one seed, with its reference row) on this shape")
    parser.add_argument("--base", default=None, metavar="REF",
                        help="also run each set with the code of this git ref (e.g. main), for a ratio in the same run")
    parser.add_argument("--write-only", action="store_true", help="write the sets and stop")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every run")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="lossmatch-shapes-"))
    workdir.mkdir(parents=True, exist_ok=True)
    names = [s for s in args.shapes.split(",") if s]
    unknown = [s for s in [*names, *([args.reference] if args.reference else [])] if s not in SHAPES]
    if unknown:
        parser.error(f"--shapes: unknown {unknown}; known: {', '.join(SHAPES)}")
    folders = []
    for name in names:
        start = time.perf_counter()
        folders.append(write_shape(name, workdir / "sets", scale=args.scale, words=args.words, seed=args.seed))
        print(f"[shapes] wrote {folders[-1]} in {time.perf_counter() - start:.1f} s", flush=True)
    if args.write_only:
        return 0
    base = None
    if args.base:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from features_identity import base_source

        base = base_source(args.base, Path(tempfile.mkdtemp(prefix="base-", dir=workdir)))
    failed = 0
    for folder in folders:
        print(f"[shapes] running the recipe on {folder.name} ...", flush=True)
        load = os.getloadavg()[0]
        result = run_recipe(folder, workdir, args.overrides)
        result["load"] = (load, os.getloadavg()[0])
        failed += not (result["status"] == 0 and result["seconds"] < args.limit)
        print(report(folder, result, args.limit), flush=True)
        if base is not None:
            load = os.getloadavg()[0]
            before = run_recipe(folder, workdir, args.overrides, src=base)
            before["load"] = (load, os.getloadavg()[0])
            print(report(folder, before, args.limit).replace(folder.name, f"{folder.name} with {args.base}'s code", 1))
            print(f"  {args.base} / this checkout: {before['seconds'] / result['seconds']:.2f}x the seconds, "
                  f"{before['rss'] / result['rss']:.2f}x the peak RSS", flush=True)
    if args.reference:
        folder = workdir / "sets" / args.reference
        if not folder.is_dir():
            folder = write_shape(args.reference, workdir / "sets", scale=args.scale, words=args.words, seed=args.seed)
        reference = run_reference(folder, workdir, args.overrides)
        print(f"pipelines/benchmark.py {folder.name} --seeds 1 (recipe + reference row): "
              f"{reference['seconds']:.1f} s, peak RSS {reference['rss'] / 2**30:.2f} GiB, exit status "
              f"{reference['status']}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
