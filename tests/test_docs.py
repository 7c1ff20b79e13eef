"""Every code example in README.md and docs/ runs, and the site builds strictly.

The collector reads each Markdown page's fenced code blocks, in order:

- ``python``/``pycon`` blocks run in one fresh namespace per page, in a temporary directory
  (so relative paths such as ``mlruns/`` land there); blocks written as ``>>>`` sessions are
  doctests whose printed output must match (``...`` matches anything);
- shell blocks (``bash``, ``console``, ``sh``, or no language): every ``python train.py ...``
  and ``python pipelines/<name>.py ...`` line goes through the command line's preflight
  (compose + typed schema, ``lossmatch.cli.preflight``), so a renamed key, group option or
  value fails here; every other ``python <file>.py`` must name a file of the checkout. In a
  console transcript, a ``lossmatch: error: ...`` line after a command is the error the
  preflight must raise, word for word;
- ``yaml`` blocks parse; a ``map:`` is built as a ``SimilarityMap`` and ``blocking:`` rules
  are validated; ``json`` blocks parse, and a ``dataframe_split`` request names exactly the
  columns the served matcher of the default data expects;
- blocks with a file title (```` ```python title="src/lossmatch/losses/tversky.py" ````) are
  files of a worked example: the page then runs in a copy of the checkout (``src/``,
  ``conf/``, ``train.py``, ``pipelines/``) in which each titled block creates its file, or is
  appended to it when the file exists; the page's other blocks run in a subprocess on that
  copy, and titled ``tests/...`` files run with pytest there.

``<!-- no-test -->`` (or ``<!-- no-test: why -->``) on the line before a block skips it (used
rarely, for what cannot run here: a cluster launcher, a placeholder path). A page holding
``<!-- docs-test: slow -->`` (or ``<!-- docs-test: slow, why -->``) runs only with ``-m slow``:
its blocks share one namespace, so a page is fast or slow as a whole. The fast part of this
file takes about a minute on a quiet 2-core machine.
"""

from __future__ import annotations

import doctest
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
NO_TEST = "<!-- no-test"  # "<!-- no-test -->" or "<!-- no-test: why -->"
SLOW_PAGE = re.compile(r"^<!-- docs-test: slow\b", flags=re.MULTILINE)  # the whole page's examples are long
PYTHON = {"python", "py", "pycon"}
SHELL = {"bash", "sh", "console", "shell", ""}


@dataclass
class Block:
    page: str
    line: int
    lang: str
    code: str
    title: str | None = None
    skip: bool = False

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>```+|~~~+)\s*(?P<lang>[\w+-]*)(?P<rest>.*)$")
_TITLE = re.compile(r'title="([^"]+)"')


def read_blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a Markdown file, with language, title and no-test marker."""
    lines = path.read_text(encoding="utf-8").splitlines()
    page = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name
    blocks, i = [], 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence = len(m["indent"]), m["fence"]
        previous = next((lines[k].strip() for k in range(i - 1, -1, -1) if lines[k].strip()), "")
        title = _TITLE.search(m["rest"])
        body, j = [], i + 1
        while j < len(lines) and not (lines[j].strip().startswith(fence) and lines[j].strip().strip(fence[0]) == ""):
            body.append(lines[j][indent:] if lines[j][:indent].strip() == "" else lines[j])
            j += 1
        blocks.append(
            Block(page, i + 1, m["lang"].lower(), "\n".join(body) + "\n", title[1] if title else None, previous.startswith(NO_TEST))
        )
        i = j + 1
    return blocks


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def _page_id(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name


def _is_sandboxed(blocks: list[Block]) -> bool:
    return any(b.title and not b.skip for b in blocks)


def _param(page: Path):
    """The page as a test parameter, marked slow when the page says its examples are long."""
    slow = SLOW_PAGE.search(page.read_text(encoding="utf-8")) is not None
    return pytest.param(page, id=_page_id(page), marks=[pytest.mark.slow] if slow else [])


# -- shell commands ---------------------------------------------------------------------------
def shell_commands(code: str) -> list[tuple[list[str], str | None]]:
    """The ``python <file>.py ...`` commands of a shell block, as argument lists, each with the
    ``lossmatch: error: ...`` line printed after it in a console transcript (None if none)."""
    text = re.sub(r"\\\n\s*", " ", code)  # line continuations
    commands: list[tuple[list[str], str | None]] = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith(ERROR_PREFIX) and commands and commands[-1][1] is None:
            commands[-1] = (commands[-1][0], line[len(ERROR_PREFIX):])
            continue
        line = line.removeprefix("$ ")
        for part in line.split("&&"):
            try:
                words = shlex.split(part, comments=True)
            except ValueError:
                continue  # output shown in a block, not a command
            if len(words) >= 2 and words[0] in ("python", "python3") and words[1].endswith(".py"):
                commands.append((words[1:], None))
    return commands


ERROR_PREFIX = "lossmatch: error: "


def check_command(argv: list[str], root: Path, expected_error: str | None = None) -> None:
    """Preflight a documented command: the script exists, its overrides compose and validate.

    With ``expected_error`` (the line a console transcript shows after the command), the
    preflight must fail with exactly that message; ``...`` in it matches anything.
    """
    from lossmatch.cli import preflight
    from lossmatch.errors import InputError

    script = root / argv[0]
    assert script.is_file(), f"{argv[0]}: no such script in the checkout"
    source = script.read_text(encoding="utf-8")
    name = re.search(r"config_name\s*=\s*[\"'](\w+)[\"']", source)
    if name is None:
        assert expected_error is None, f"{argv[0]} is not checked by preflight; its error cannot be verified"
        return  # not a Hydra entry point (a benchmark script): it exists, that is all we can say
    args = argv[1:]
    flags = [a for a in args if a.startswith("-")]
    # Overrides have an "=" (or delete a key with "~"); other words are values of the script's own options.
    overrides = [a for a in args if not a.startswith("-") and ("=" in a or a.startswith("~"))]
    multirun = bool({"-m", "--multirun"} & set(flags))
    if expected_error is None:
        try:
            preflight(root / "conf", name[1], overrides, multirun=multirun)
        except InputError as exc:
            # The preflight also finds data files that are not there: a page's a.csv is a
            # placeholder, so that one error (and only for a file the command names) is fine.
            missing = re.fullmatch(r"data\.\w+: (?:file|directory) not found: (.+)", str(exc))
            named = missing and any(a.endswith(Path(missing[1]).name) for a in overrides)
            if not named:
                raise
        return
    with pytest.raises(InputError) as caught:
        preflight(root / "conf", name[1], overrides, multirun=multirun)
    pattern = ".*".join(re.escape(part) for part in expected_error.split("..."))
    message = " ".join(str(caught.value).split())
    assert re.fullmatch(pattern, message), f"documented: {expected_error!r}\nprinted:    {message!r}"


# -- other block kinds ------------------------------------------------------------------------
def check_yaml(block: Block) -> None:
    content = yaml.safe_load(block.code)
    if isinstance(content, dict) and "map" in content and content["map"] is not None:
        from lossmatch.similarity import SimilarityMap

        SimilarityMap(content)
    if isinstance(content, dict) and content.get("blocking"):
        from lossmatch.blocking import validate_rules

        validate_rules(content["blocking"])


def check_json(block: Block) -> None:
    content = json.loads(block.code)
    if isinstance(content, dict) and "dataframe_split" in content:
        from omegaconf import OmegaConf

        from lossmatch.serving import pair_columns
        from lossmatch.similarity import SimilarityMap

        frame = content["dataframe_split"]
        febrl4 = SimilarityMap(OmegaConf.load(ROOT / "conf" / "similarity" / "febrl4.yaml")["map"])
        assert frame["columns"] == pair_columns(febrl4), f"{block.where}: not the columns the FEBRL4 matcher takes"
        assert all(len(row) == len(frame["columns"]) for row in frame["data"])


def run_python(block: Block, namespace: dict) -> None:
    if ">>>" in block.code:
        parser = doctest.DocTestParser()
        test = parser.get_doctest(block.code, namespace, block.where, block.page, block.line)
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        failures = []
        runner.run(test, out=failures.append, clear_globs=False)
        namespace.update(test.globs)  # DocTest works on a copy; later blocks see its names
        assert runner.failures == 0, "".join(failures)
    else:
        exec(compile(block.code, block.where, "exec"), namespace)  # noqa: S102 (the docs' own examples)


def run_page(blocks: list[Block], root: Path) -> None:
    """Run a page's examples in order; the working directory is the caller's (a temp folder)."""
    namespace = {"__name__": "__docs__"}
    for block in blocks:
        if block.skip or block.title:
            continue
        try:
            if block.lang in PYTHON:
                run_python(block, namespace)
            elif block.lang in SHELL:
                for argv, expected_error in shell_commands(block.code):
                    check_command(argv, root, expected_error)
            elif block.lang == "yaml":
                check_yaml(block)
            elif block.lang == "json":
                check_json(block)
        except Exception as exc:
            raise AssertionError(f"{block.where}: the {block.lang or 'shell'} example fails: {exc}") from exc


# -- the tests --------------------------------------------------------------------------------
PAGES = [p for p in pages() if any(not b.skip for b in read_blocks(p))]


@pytest.fixture
def docs_env(tmp_path, monkeypatch):
    """A temp working directory, which is also the root the defaults of conf/ point to.

    PROJECT_ROOT is the absolute temp path rather than unset (".") because MLflow caches a
    store per URI string for the life of the process: a relative ``sqlite:///./mlruns/...``
    of one page would be reused by the next page in another directory.
    """
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROJECT_ROOT", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))  # loading a pyfunc model prepends its code folder
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    return tmp_path


SANDBOXED = [p for p in PAGES if _is_sandboxed(read_blocks(p))]


@dataclass
class Job:
    """A subprocess started early (see ``background``) and read by its test."""

    proc: subprocess.Popen
    out: Path
    info: dict

    def result(self, timeout: float = 600) -> tuple[int, str]:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            code = -9
        return code, self.out.read_text(encoding="utf-8", errors="replace")


def _start(cmd: list[str], out: Path, **kwargs) -> subprocess.Popen:
    with open(out, "w", encoding="utf-8") as f:
        return subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, text=True, **kwargs)


def _start_worked_example(page: Path, tmp: Path) -> Job:
    """A copy of the checkout with the page's titled blocks written into it, and the page run on it."""
    sandbox = tmp / "checkout"
    for name in ("src", "conf", "pipelines"):
        shutil.copytree(ROOT / name, sandbox / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy2(ROOT / "train.py", sandbox / "train.py")
    tests, written = [], []
    for block in read_blocks(page):
        if block.title and not block.skip:
            target = sandbox / block.title
            target.parent.mkdir(parents=True, exist_ok=True)
            # A new file is created; an existing one (a registry, a package's __init__) gets the block appended.
            separator = "\n\n" if target.exists() else ""
            with open(target, "a", encoding="utf-8") as f:
                f.write(separator + block.code)
            written.append(block.title)
            if block.title.startswith("tests/"):
                tests.append(block.title)
    work = tmp / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update(PYTHONPATH=str(sandbox / "src"), PROJECT_ROOT=str(work), TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONDONTWRITEBYTECODE="1")
    proc = _start([sys.executable, __file__, str(page), str(sandbox), *tests], tmp / "output.txt", cwd=work, env=env)
    return Job(proc, tmp / "output.txt", {"written": written, "tests": tests})


def _start_site_build(tmp: Path) -> Job:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"),
           "--site-dir", str(tmp / "site")]
    return Job(_start(cmd, tmp / "output.txt", env=env), tmp / "output.txt", {"site": tmp / "site"})


@pytest.fixture(scope="module", autouse=True)
def background(request, tmp_path_factory):
    """The slow subprocesses (worked examples, the site build), started before the in-process
    pages run so that they overlap with them; only those whose tests were selected."""
    selected = {item.name for item in request.session.items}
    jobs: dict[str, Job] = {}
    for page in SANDBOXED:
        name = f"test_worked_example_runs_in_a_copy_of_the_checkout[{_page_id(page)}]"
        if name in selected:
            jobs[name] = _start_worked_example(page, tmp_path_factory.mktemp("worked"))
    if "test_site_builds_strictly" in selected:
        jobs["test_site_builds_strictly"] = _start_site_build(tmp_path_factory.mktemp("site"))
    yield jobs
    for job in jobs.values():
        if job.proc.poll() is None:  # a test failed before reading its job: stop what we started
            job.proc.kill()
            job.proc.wait()


@pytest.mark.parametrize("page", [_param(p) for p in PAGES if not _is_sandboxed(read_blocks(p))])
def test_page_examples_run(page, docs_env):
    run_page(read_blocks(page), ROOT)


@pytest.mark.parametrize("page", [_param(p) for p in SANDBOXED])
def test_worked_example_runs_in_a_copy_of_the_checkout(page, background, request):
    job = background[request.node.name]
    code, output = job.result()
    assert code == 0, f"{_page_id(page)}: worked example failed (files {job.info['written']})\n{output[-6000:]}"
    assert "lossmatch from" in output  # the subprocess really ran the copy's code
    if job.info["tests"]:
        assert " passed" in output and " failed" not in output


def _run_sandboxed(page: str, sandbox: str, tests: list[str]) -> int:
    """In the subprocess: the page's examples against the sandbox, then its titled test files."""
    import lossmatch

    root = Path(sandbox)
    assert Path(lossmatch.__file__).resolve().is_relative_to(root.resolve()), lossmatch.__file__
    print(f"lossmatch from {lossmatch.__file__}", flush=True)
    run_page(read_blocks(Path(page)), root)
    if tests:
        return pytest.main(["-q", "-p", "no:cacheprovider", "--rootdir", str(root), *[str(root / t) for t in tests]])
    return 0


def test_site_builds_strictly(background):
    """``mkdocs build --strict``: broken links, missing API references and bad docstrings fail."""
    job = background["test_site_builds_strictly"]
    code, output = job.result(timeout=300)
    assert code == 0, output[-6000:]
    reference = (job.info["site"] / "reference" / "configuration" / "index.html").read_text(encoding="utf-8")
    # The generated tables made it into the page (the marker was replaced).
    assert "trainer.early_stopping_patience_steps" in reference and "config-reference" not in reference


def test_readme_links_point_to_pages_of_the_site():
    """README is outside the site, so mkdocs does not check its links: every relative link
    names a file of the checkout, and every docs/ page it names is in the site's nav."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = [t.split("#")[0] for t in re.findall(r"\]\(([^)#:]+(?:#[^)]*)?)\)", text)]
    assert targets, "README links to no page"
    missing = [t for t in targets if not (ROOT / t).exists()]
    assert not missing, f"README links to missing files: {missing}"
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    unlisted = [t for t in targets if t.startswith("docs/") and t.endswith(".md") and t.removeprefix("docs/") not in nav]
    assert not unlisted, f"README links to pages missing from mkdocs.yml's nav: {unlisted}"


def test_configuration_reference_covers_the_schema_and_every_option():
    """Every field of the typed schema and every option file of conf/ is in the generated reference."""
    sys.path.insert(0, str(DOCS))
    try:
        import hooks
    finally:
        sys.path.remove(str(DOCS))
    from lossmatch.config import CacheConfig, FeaturesConfig, PathsConfig, RunConfig, TrackingConfig, TrainerConfig

    text = hooks.config_reference(ROOT)
    sections = (("", RunConfig), ("trainer.", TrainerConfig), ("tracking.", TrackingConfig), ("paths.", PathsConfig),
                ("features.", FeaturesConfig), ("cache.", CacheConfig))
    for prefix, model in sections:
        for name in model.model_fields:
            if prefix or name not in ("data", "similarity", "model", "loss", "trainer", "tracking", "paths"):
                assert f"`{prefix}{name}`" in text, f"{prefix}{name} missing from the configuration reference"
    # Defaults come from the composed config, descriptions from the schema.
    assert "| `trainer.max_steps` | int (≥ 1) \\| null | `4000` | budget in optimizer steps (null: epochs alone) |" in text
    for group in ("data", "similarity", "model", "loss", "experiment", "hparams_search"):
        for option in (ROOT / "conf" / group).glob("*.yaml"):
            assert f"`{group}={option.stem}`" in text, f"{group}={option.stem} missing"


def test_sweeps_page_lists_exactly_the_sweeper_options():
    """The options table of docs/sweeps.md names every key of the sweeper's config, and no other."""
    from hydra_plugins.lossmatch_optuna_sweeper.config import LossmatchOptunaSweeperConf, MlflowConfig

    text = (DOCS / "sweeps.md").read_text(encoding="utf-8")
    table = text.split("## Options")[1].split("\n## ")[0]
    documented = set(re.findall(r"^\| `?([\w.]+)", table, flags=re.MULTILINE)) | set(
        re.findall(r"`(\w+)`", " ".join(line.split("|")[1] for line in table.splitlines() if line.startswith("| ")))
    )
    fields = {f for f in LossmatchOptunaSweeperConf.__dataclass_fields__ if not f.startswith("_")} - {"defaults", "mlflow"}
    assert fields <= documented, f"undocumented sweeper options: {sorted(fields - documented)}"
    mlflow_keys = {f for f in MlflowConfig.__dataclass_fields__}
    assert all(f".{k}`" in table or f"`{k}`" in table for k in mlflow_keys), "mlflow.* options missing"


def test_every_similarity_and_loss_is_documented():
    """A similarity registered or a loss option added without a word in the user guide fails here."""
    from lossmatch.similarity import available_similarities

    guide = (DOCS / "your-data.md").read_text(encoding="utf-8")
    undocumented = [name for name in available_similarities() if f"`{name}`" not in guide]
    assert not undocumented, f"similarities missing from docs/your-data.md: {undocumented}"
    losses = (DOCS / "losses.md").read_text(encoding="utf-8")
    options = [p.stem for p in (ROOT / "conf" / "loss").glob("*.yaml")]
    assert not [o for o in options if f"| `{o}`" not in losses], "a loss option is missing from the table in docs/losses.md"


def test_collector_reads_fences_titles_and_markers(tmp_path):
    """The collector itself: languages, titles, no-test markers and indented fences."""
    page = tmp_path / "page.md"
    page.write_text(
        textwrap.dedent(
            """\
            Text.

            ```python
            x = 1
            ```

            <!-- no-test -->
            ```bash
            python train.py nosuchkey=1
            ```

            !!! note
                ```python title="src/x.py"
                y = 2
                ```
            """
        ),
        encoding="utf-8",
    )
    blocks = read_blocks(page)
    assert [(b.lang, b.title, b.skip, b.code) for b in blocks] == [
        ("python", None, False, "x = 1\n"),
        ("bash", None, True, "python train.py nosuchkey=1\n"),
        ("python", "src/x.py", False, "y = 2\n"),
    ]
    # A page is fast unless it says otherwise on a line of its own.
    assert not _param(page).marks
    slow_page = tmp_path / "slow.md"
    slow_page.write_text("<!-- docs-test: slow, two full runs -->\n\n```python\nx = 1\n```\n", encoding="utf-8")
    assert [m.name for m in _param(slow_page).marks] == ["slow"]
    assert shell_commands(
        "pip install -e . && python train.py \\\n   loss=focal  # comment\n"
        "$ python pipelines/predict.py export=DIR\nlossmatch: error: export: not a directory: DIR\n"
    ) == [
        (["train.py", "loss=focal"], None),
        (["pipelines/predict.py", "export=DIR"], "export: not a directory: DIR"),
    ]


def test_a_renamed_key_in_a_documented_command_fails():
    """The shell check is not a formality: a key the schema does not know is an InputError."""
    from lossmatch.errors import InputError

    with pytest.raises(InputError, match="trainer.epoch"):
        check_command(["train.py", "trainer.epoch=5"], ROOT)
    with pytest.raises(InputError, match="loss=focall"):
        check_command(["train.py", "loss=focall"], ROOT)


if __name__ == "__main__":
    sys.exit(_run_sandboxed(sys.argv[1], sys.argv[2], sys.argv[3:]))
