"""Two sweeper processes on one PostgreSQL database, as on many machines; the password never shows.

Needs a server: ``eval "$(.ci/postgres.sh start)"`` exports LOSSMATCH_TEST_POSTGRES_URL (a DSN with
a random password); ``.ci/postgres.sh stop`` removes it. Without the variable the test is skipped
and says why.
"""

from __future__ import annotations

import os
import uuid

import optuna
import pytest
from sweep_toy import start_app, states

DSN = os.environ.get("LOSSMATCH_TEST_POSTGRES_URL")

pytestmark = pytest.mark.skipif(
    not DSN,
    reason='LOSSMATCH_TEST_POSTGRES_URL is not set: start a server with eval "$(.ci/postgres.sh start)"',
)


def test_two_processes_on_postgresql(tmp_path):
    from sqlalchemy.engine import make_url

    password = make_url(DSN).password
    assert password, (
        "the test DSN must carry a password, to check that it is never shown"
    )
    study_name = f"toy-{uuid.uuid4().hex[:8]}"  # a fresh study in a database that may outlive the test
    records, barrier = tmp_path / "records", tmp_path / "barrier"
    # The storage URL is given literally on the command line, the worst case for leaking it.
    common = [
        f"hydra.sweeper.storage={DSN}",
        f"hydra.sweeper.study_name={study_name}",
        "hydra.sweeper.n_trials=6",
        f"record_dir={records}",
        f"barrier_dir={barrier}",
        "sleep=0.2",
    ]
    procs = [start_app(tmp_path / f"sweep{i}", *common) for i in range(2)]
    outputs = [p.communicate(timeout=240)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n".join(outputs)

    study = optuna.load_study(study_name=study_name, storage=DSN)
    assert states(study) == {"COMPLETE": 6}
    ran = [f.stem.split("-") for f in records.iterdir()]
    assert sorted(int(n) for _, n in ran) == list(range(6))  # each trial ran once
    assert len({pid for pid, _ in ran}) == 2  # and both processes took part

    # the password is in no output and in no file the sweeps wrote (.hydra/*.yaml, results)
    for output in outputs:
        assert password not in output
        assert "lossmatch:***@127.0.0.1" in output
    written = [
        p for p in tmp_path.rglob("*") if p.is_file() and p.parent.name != "records"
    ]
    assert any(p.name == "hydra.yaml" for p in written)
    for path in written:
        assert password not in path.read_text(errors="replace"), path
