"""Hydra finds the sweeper once the project is installed, editable or not, in a fresh environment.

Slow: it builds a virtual environment and installs the project into it, as CI does from a fresh
clone. To stay offline and fast, the new environment sees the dependencies of the environment
running the tests through a ``.pth`` path line (a path line adds the directory only: that
environment's own editable installs, which are ``.pth`` hooks inside it, stay inactive), and the
project itself is installed with ``--no-deps``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _venv_purelib(python: Path) -> Path:
    out = subprocess.run(
        [
            str(python),
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(out.stdout.strip())


@pytest.mark.slow
@pytest.mark.parametrize(
    "editable", [False, True], ids=["pip-install", "pip-install-e"]
)
def test_fresh_install_discovers_and_runs_the_sweeper(tmp_path, editable):
    checkout = (
        tmp_path / "checkout"
    )  # what a fresh clone holds (tracked and new files alike)
    for name in ("src", "conf", "tests", "pyproject.toml", "README.md"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(
                source,
                checkout / name,
                ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
            )
        else:
            shutil.copy2(source, checkout / name)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    (_venv_purelib(python) / "_parent_site.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n"
    )
    install = [
        str(python),
        "-m",
        "pip",
        "install",
        "-q",
        "--no-deps",
        "--no-build-isolation",
    ]
    install += ["-e", str(checkout)] if editable else [str(checkout)]
    subprocess.run(install, check=True, cwd=tmp_path, capture_output=True)
    clean_env = {
        "PATH": str(venv / "bin") + ":/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PYTHONWARNINGS": "ignore",
    }

    probe = subprocess.run(
        [
            str(python),
            "-c",
            "from hydra.core.plugins import Plugins; from hydra.plugins.sweeper import Sweeper\n"
            "import hydra_plugins.lossmatch_optuna_sweeper as m\n"
            "print([p.__name__ for p in Plugins.instance().discover(Sweeper)]); print(m.__file__)",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=clean_env,
        check=True,
    )
    names, location = probe.stdout.splitlines()[-2:]
    assert "LossmatchOptunaSweeper" in names
    # the plugin comes from this installation, not from the source tree the tests run in
    expected_home = checkout / "src" if editable else venv
    assert Path(location).resolve().is_relative_to(expected_home.resolve())

    app = checkout / "tests" / "sweeper" / "my_app.py"
    sweep = subprocess.run(
        [
            str(python),
            str(app),
            "-m",
            f"hydra.sweep.dir={tmp_path / 'sweep'}",
            "hydra.sweeper.n_trials=2",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=clean_env,
        timeout=300,
    )
    assert sweep.returncode == 0, sweep.stderr
    assert "trial 1 COMPLETE" in sweep.stdout + sweep.stderr
