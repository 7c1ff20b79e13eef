"""Snapshot what ``similarity=auto`` makes of DeepMatcher-format sets, to prove a change leaves them alone.

For each directory (tableA/B.csv and the labelled pairs) and each variant (the set as it is,
its dirty and its textual version, made as ``bench/features_dev.py`` makes them) this records the
inferred map and a SHA-256 of the feature array of every labelled pair (train, valid and test
pairs together: the features of a pair do not depend on its split, and no label is read).

    python bench/auto_identity.py DIR [DIR ...] --write before.json   # on the old code
    python bench/auto_identity.py DIR [DIR ...] --check before.json   # on the new code

``--check`` prints one line per set and variant (``same`` or what differs) and exits 1 on any difference.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from features_dev import load  # noqa: E402

from lossmatch.similarity.auto import infer_map  # noqa: E402
from lossmatch.similarity.map import SimilarityMap  # noqa: E402

SPLITS = ("train", "val", "test")


def snapshot(directory: str, variant: str) -> dict:
    """The inferred map, the feature names and a hash of the features of every labelled pair."""
    name, left, right, pairs = load(directory, variant, seed=0)
    spec = infer_map(left, right, ignore=["id"])
    similarity_map = SimilarityMap(spec)
    every = pd.concat([pairs[s] for s in SPLITS], ignore_index=True)
    X = similarity_map.transform(left, right, every["left"].to_numpy(), every["right"].to_numpy(), progress=False)
    digest = hashlib.sha256(np.ascontiguousarray(X, dtype=np.float32).tobytes()).hexdigest()
    # Round-trip through JSON so that a written snapshot compares equal to a fresh one.
    return json.loads(json.dumps({"set": name, "variant": variant, "map": spec,
                                  "features": similarity_map.feature_names, "shape": list(X.shape),
                                  "sha256": digest}))


def differences(before: dict, after: dict) -> list[str]:
    """What differs between two snapshots of one set and variant (empty: identical)."""
    found = []
    for key in ("map", "features", "shape", "sha256"):
        if before[key] != after[key]:
            if key == "map":
                changed = sorted(k for k in {*before["map"], *after["map"]}
                                 if before["map"].get(k) != after["map"].get(k))
                found.append(f"map entries {changed}")
            else:
                found.append(key)
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+")
    parser.add_argument("--variants", default="none,dirty,textual")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", type=Path)
    group.add_argument("--check", type=Path)
    args = parser.parse_args(argv)
    before = {(s["set"], s["variant"]): s for s in json.loads(args.check.read_text())} if args.check else {}
    snapshots, failed = [], False
    for directory in args.dirs:
        for variant in args.variants.split(","):
            start = time.perf_counter()
            snap = snapshot(directory, variant)
            snapshots.append(snap)
            line = f"{snap['set']} ({variant}): {snap['shape'][0]} pairs x {snap['shape'][1]} features"
            if args.check:
                old = before.get((snap["set"], variant))
                found = ["no snapshot to compare with"] if old is None else differences(old, snap)
                failed |= bool(found)
                line += ": " + ("same map, same features" if not found else "DIFFERENT " + ", ".join(found))
            print(f"{line}  ({time.perf_counter() - start:.1f} s)", flush=True)
    if args.write:
        args.write.write_text(json.dumps(snapshots, indent=1))
        print(f"wrote {args.write}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
