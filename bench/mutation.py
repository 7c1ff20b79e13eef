"""Mutation score of the core modules, per module, with mutmut.

mutmut (configured in ``[tool.mutmut]`` of pyproject.toml) copies ``src/`` into
``mutants/``, plants one small bug ("mutant") at a time in each function of the
modules under ``only_mutate``, and runs the tests that reached that function in a
first stats run (per-function test selection, limited to the test files under
``pytest_add_cli_args_test_selection``). A mutant is *killed* when a test fails.
This script runs it and prints, per module, killed / survived / timeout / other /
total and the share killed, then the total wall time.

Too slow for every CI run: the whole scope (3,496 mutants) took 44 min with 2 workers on
2 cores shared with other jobs; bench/mutation_survivors.md has the last table and what was
done about every survivor. Run it before merging a change to the modules below.

    python bench/mutation.py                       # every module in scope, from scratch
    python bench/mutation.py -m metrics -m focal   # only modules whose path contains these
    python bench/mutation.py --resume              # keep mutants/ results, test only the unchecked
    python bench/mutation.py --report              # print the table of the last run, run nothing
    python bench/mutation.py --survivors           # ... and each survivor's diff

Extending the scope (as was done for the pipeline's threshold and evaluation stage,
stages/evaluate.py): add the module's path to ``only_mutate`` and its fast test files to
``pytest_add_cli_args_test_selection`` in ``[tool.mutmut]`` of pyproject.toml.
This script reads both from there and reports every module in ``only_mutate``; the
module groups of the summary lines are ``GROUPS`` below.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
MUTANTS = ROOT / "mutants"

# Summary lines over several modules: (label, glob over the source paths, "|" between
# globs). Issue 16's targets: 90 % killed in losses/ and metrics.py, 80 % overall.
GROUPS = (
    ("losses/", "src/lossmatch/losses/*"),
    ("similarity/", "src/lossmatch/similarity/*"),
)
# mutmut's result categories as they are shown here (see mutmut.stats.status_by_exit_code).
SHOWN = ("killed", "survived", "timeout")


def mutmut_config() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["tool"]["mutmut"]


def scope_files(config: dict) -> list[Path]:
    """Source files under ``only_mutate`` (relative to the repository root), sorted."""
    files = []
    for source in config.get("source_paths", ["src"]):
        for path in sorted((ROOT / source).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if any(fnmatch.fnmatch(rel, pattern) for pattern in config["only_mutate"]):
                files.append(Path(rel))
    return files


def mutant_glob(path: Path) -> str:
    """mutmut names mutants after the dotted module: src/lossmatch/metrics.py -> lossmatch.metrics.*"""
    parts = list(path.with_suffix("").parts)
    if parts[0] == "src":
        parts = parts[1:]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) + ".*"


def select(files: list[Path], wanted: list[str]) -> list[Path]:
    chosen = [f for f in files if any(w in f.as_posix() for w in wanted)]
    if not chosen:
        sys.exit(f"mutation.py: no module in scope matches {wanted}; in scope: {', '.join(map(str, files))}")
    return chosen


_COLLECT_TWICE = """
import sys, pytest
class Ids:
    def __init__(self): self.ids = set()
    def pytest_collection_modifyitems(self, items): self.ids |= {i.nodeid for i in items}
runs = [Ids(), Ids()]
for ids in runs:
    pytest.main(["-qq", "--collect-only", "-p", "no:cacheprovider", *sys.argv[1:]], plugins=[ids])
for nodeid in sorted(runs[0].ids - runs[1].ids):
    print("lost: " + nodeid)
"""


def check_collection_repeats(selection: list[str]) -> None:
    """Refuses to run when a second collection in one process finds fewer tests.

    mutmut collects the already imported test modules again in each mutant's process.
    A test parametrized over a generator is then "not found", pytest stops with an
    error, and mutmut counts the mutant as killed: a silent, false kill.
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-c", _COLLECT_TWICE, *selection], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    lost = [line.removeprefix("lost: ") for line in proc.stdout.splitlines() if line.startswith("lost: ")]
    if proc.returncode != 0 or lost:
        sys.exit(
            "mutation.py: these tests are not found when collected a second time in one process "
            "(parametrized over a generator? use a list), so mutmut would count false kills:\n  "
            + "\n  ".join(lost[:20] or [proc.stderr[-2000:]])
        )


def run_mutmut(files: list[Path], *, subset: bool, max_children: int) -> None:
    """Runs ``mutmut run`` in the repository root, showing its progress line."""
    cmd = [sys.executable, "-m", "mutmut", "run", "--max-children", str(max_children)]
    if subset:
        # Named mutants are (re)run even when mutants/ holds a result for them.
        cmd += [mutant_glob(f) for f in files if f.name != "__init__.py"]
    env = dict(os.environ)
    # mutmut puts mutants/src first on sys.path; a PYTHONPATH to the worktree's src would
    # shadow the mutated copy, and every mutant would survive.
    env.pop("PYTHONPATH", None)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # The tests run inside mutants/, one level deeper: point them at the benchmark copies.
    env.setdefault("LOSSMATCH_MAGELLAN", str(ROOT.parent / "shared" / "data" / "magellan"))
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, bufsize=1)
    assert proc.stdout is not None
    for line in proc.stdout:
        # With named mutants mutmut ends with one line per mutant; the table below says it better.
        if not line.lstrip().startswith(tuple("🎉🙁⏰🤔🫥🔇🧙🛑💥?")):
            sys.stdout.write(line)
            sys.stdout.flush()
    if proc.wait() != 0:
        sys.exit(f"mutation.py: mutmut run failed with exit status {proc.returncode}")


def results(files: list[Path]) -> dict[Path, dict[str, str]]:
    """{source file: {mutant name: status}} from mutmut's per-file .meta records."""
    from mutmut.stats import status_by_exit_code

    out = {}
    for path in files:
        meta = MUTANTS / (path.as_posix() + ".meta")
        if not meta.exists():
            continue
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        out[path] = {name: status_by_exit_code[code] for name, code in codes.items()}
    return out


def _row(label: str, counts: Counter) -> str:
    total = sum(counts.values())
    other = total - sum(counts[s] for s in SHOWN)
    score = f"{100 * counts['killed'] / total:5.1f} %" if total else "    -  "
    return (
        f"{label:<44} {counts['killed']:>6} {counts['survived']:>8} {counts['timeout']:>7} "
        f"{other:>5} {total:>6}  {score}"
    )


def report(by_file: dict[Path, dict[str, str]]) -> Counter:
    print(f"\n{'module':<44} {'killed':>6} {'survived':>8} {'timeout':>7} {'other':>5} {'total':>6}  killed")
    overall: Counter = Counter()
    for path, statuses in by_file.items():
        counts = Counter(statuses.values())
        if counts:
            print(_row(path.as_posix().removeprefix("src/lossmatch/"), counts))
        overall += counts
    print("-" * 88)
    for label, patterns in GROUPS:
        group: Counter = Counter()
        for path, statuses in by_file.items():
            if any(fnmatch.fnmatch(path.as_posix(), p) for p in patterns.split("|")):
                group += Counter(statuses.values())
        if group:
            print(_row(label, group))
    print(_row("all modules above", overall))
    others = sorted(set(overall) - set(SHOWN))
    if others:
        print("other: " + ", ".join(f"{overall[s]} {s}" for s in others))
    return overall


def show_survivors(by_file: dict[Path, dict[str, str]]) -> None:
    names = [n for statuses in by_file.values() for n, s in statuses.items() if s != "killed"]
    print(f"\n{len(names)} mutants not killed:")
    for name in names:
        diff = subprocess.run(
            [sys.executable, "-m", "mutmut", "show", name], cwd=ROOT, capture_output=True, text=True
        ).stdout
        print(diff.rstrip() + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-m", "--module", action="append", default=[],
                        help="only modules whose path contains this text (repeatable), e.g. metrics, losses/focal")
    parser.add_argument("--resume", action="store_true", help="keep mutants/ and its results from an earlier run")
    parser.add_argument("--report", action="store_true", help="print the last run's table, run nothing")
    parser.add_argument("--survivors", action="store_true", help="print the diff of every mutant not killed")
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2,
                        help="mutants tested in parallel (default: the number of CPU cores)")
    args = parser.parse_args()

    files = scope_files(mutmut_config())
    if args.module:
        files = select(files, args.module)

    start = time.perf_counter()
    if not args.report:
        if not args.resume and not args.module and MUTANTS.exists():
            # A full run starts from scratch, so that no result of older code or tests is kept.
            shutil.rmtree(MUTANTS)
        print(f"mutation.py: {len(files)} modules, {args.max_children} at a time", flush=True)
        check_collection_repeats(mutmut_config()["pytest_add_cli_args_test_selection"])
        run_mutmut(files, subset=bool(args.module), max_children=args.max_children)
    wall = time.perf_counter() - start

    by_file = results(files)
    if not by_file:
        sys.exit("mutation.py: no results under mutants/; run without --report first")
    report(by_file)
    if args.survivors:
        show_survivors(by_file)
    if not args.report:
        print(f"\nwall time: {wall:.0f} s ({wall / 60:.1f} min) with {args.max_children} workers on "
              f"{os.cpu_count()} cores")


if __name__ == "__main__":
    main()
