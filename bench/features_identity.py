"""Are the ``similarity=auto`` features of some sets bit-identical between a git ref (default ``main``) and this checkout?

For each DeepMatcher-format directory (and its dirty and textual versions, ``bench/variant_sets.py``'s
rules), the map is inferred from the tables with the run's default options (``conf/similarity/auto.yaml``)
and the features of every labelled pair are computed, once with the code of ``--base`` (``git archive``
of its ``src/`` into a temporary folder) and once with this checkout's, each in its own process. Then
the maps, feature names and arrays are compared byte for byte, and the seconds of each side printed
(the two sides run one after the other on the same machine: a ratio, not absolute figures).

    python bench/features_identity.py DIR [DIR ...] [--base main] [--variants none,dirty,textual]

Exit status 1 when any set differs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def compute(directory: str, variant: str, out: Path) -> None:
    """(In the child) the inferred map and features of every labelled pair of one set, to ``out``.npz / .json."""
    import pandas as pd

    sys.path.insert(0, str(ROOT / "bench"))
    from features_dev import load

    from lossmatch.similarity.auto import resolve_similarity_map

    _, left, right, pairs = load(directory, variant, seed=0)
    start = time.perf_counter()
    config = {"auto": True, "map": None, "auto_options": {"context": True, "max_context_cells": 50_000_000}}
    similarity_map = resolve_similarity_map(config, left, right, ignore=["id"])
    every = pd.concat([pairs[s] for s in ("train", "val", "test")], ignore_index=True)
    X = similarity_map.transform(left, right, every["left"].to_numpy(), every["right"].to_numpy())
    seconds = time.perf_counter() - start
    np.save(out.with_suffix(".npy"), X)
    out.with_suffix(".json").write_text(json.dumps(
        {"map": similarity_map.to_dict(), "names": similarity_map.feature_names, "seconds": seconds}))


def run_side(src: Path, directory: str, variant: str, out: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src), "TF_CPP_MIN_LOG_LEVEL": "3"}
    subprocess.run([sys.executable, __file__, "--child", directory, variant, str(out)], env=env, check=True,
                   cwd=ROOT)
    return {"X": np.load(out.with_suffix(".npy")), **json.loads(out.with_suffix(".json").read_text())}


def base_source(ref: str, folder: Path) -> Path:
    """``src/`` of ``ref`` (git archive) under ``folder``."""
    archive = folder / "base.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), ref, "src"], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    return folder / "src"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        compute(argv[1], argv[2], Path(argv[3]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+")
    parser.add_argument("--base", default="main", help="git ref to compare with (default main)")
    parser.add_argument("--variants", default="none,dirty,textual")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="lossmatch-identity-"))
    sources = {"base": base_source(args.base, work), "this": ROOT / "src"}
    different = 0
    print(f"{'set':34s}{'pairs':>8s}{'features':>10s}{args.base + ' s':>10s}{'this s':>9s}{'ratio':>7s}  identical")
    for directory in args.dirs:
        for variant in args.variants.split(","):
            name = Path(directory).name + ("" if variant == "none" else f" ({variant})")
            sides = {side: run_side(src, directory, variant, work / f"{side}-{Path(directory).name}-{variant}")
                     for side, src in sources.items()}
            base, this = sides["base"], sides["this"]
            same = (base["map"] == this["map"] and base["names"] == this["names"]
                    and base["X"].dtype == this["X"].dtype and base["X"].shape == this["X"].shape
                    and base["X"].tobytes() == this["X"].tobytes())
            different += not same
            print(f"{name:34s}{len(this['X']):8d}{this['X'].shape[1]:10d}{base['seconds']:10.2f}{this['seconds']:9.2f}"
                  f"{base['seconds'] / this['seconds']:7.2f}  {'yes' if same else 'NO'}", flush=True)
    return 1 if different else 0


if __name__ == "__main__":
    sys.exit(main())
