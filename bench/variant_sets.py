"""Dirty and textual versions of DeepMatcher-format sets, to check the benchmark recipe on those kinds.

The benchmark recipe is judged on structured, dirty and textual sets, and only structured ones
are in ``../shared/data/magellan``. This writes, for each set, the other two kinds the way the
DeepMatcher authors made theirs (Mudgal et al., SIGMOD 2018):

- ``Dirty-<name>``: each non-title attribute value moves into the title (the first attribute)
  with probability 0.5 (``bench/features_dev.py:dirty``, seeded);
- ``Textual-<name>``: all attributes joined into one text column (``features_dev.textual``).

The labelled pairs (train / valid / test.csv) are copied unchanged, so the official splits hold
and nothing is chosen on test. Then run the recipe and its reference row on them:

    python bench/variant_sets.py DIR [DIR ...] --out /tmp/variants [--kinds dirty,textual] [--seed 0]
    python pipelines/benchmark.py /tmp/variants/Dirty-* /tmp/variants/Textual-* --seeds 2
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from features_dev import dirty, textual  # noqa: E402

PAIR_FILES = ("train.csv", "valid.csv", "test.csv")
TABLES = ("tableA.csv", "tableB.csv")


def write_variant(source: Path, kind: str, out: Path, *, seed: int = 0) -> Path:
    """Write the ``kind`` ("dirty" or "textual") version of the set in ``source`` under ``out``."""
    name = source.name.split("-", 1)[1] if source.name.startswith("Structured-") else source.name
    target = Path(out) / f"{kind.capitalize()}-{name}"
    target.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for table in TABLES:
        frame = pd.read_csv(source / table)
        frame = dirty(frame, rng) if kind == "dirty" else textual(frame)
        frame.to_csv(target / table, index=False)
    for pairs in PAIR_FILES:
        shutil.copyfile(source / pairs, target / pairs)
    return target


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--kinds", default="dirty,textual")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for source in args.dirs:
        for kind in args.kinds.split(","):
            if kind not in ("dirty", "textual"):
                parser.error(f"--kinds: expected dirty and/or textual, got {kind!r}")
            print(write_variant(source, kind, args.out, seed=args.seed))


if __name__ == "__main__":
    main()
