"""Where a study lives: parsing the ``storage`` option, opening it, redacting it, and liveness.

Three kinds:

* ``memory``: ``storage: null``; the study dies with the process.
* ``rdb``: any SQLAlchemy URL (``sqlite:///sweeps.db``, ``postgresql://user@host/db``). Liveness
  uses Optuna's own heartbeat (``RDBStorage(heartbeat_interval, grace_period)``) and
  ``optuna.storages.fail_stale_trials``.
* ``journal``: an Optuna journal file, written as ``journal:///relative.log``,
  ``journal:////absolute.log`` (slashes as in SQLAlchemy's sqlite URLs) or a plain path ending in
  ``.log``. Optuna 5's JournalStorage has no heartbeat, so this module records one itself, as a
  trial system attribute, and fails stale trials the same way (see ``fail_stale_trials``).

A stale trial is failed and handed to Optuna's ``RetryHeartbeatStaleTrialCallback``, which
enqueues a copy with the same parameters and records the original's number in the copy's
``retry_history`` system attribute. That is how the sweeper knows a FAIL trial was superseded.
"""

from __future__ import annotations

import os
import random
import re
import threading
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# Key of the journal heartbeat (seconds since the epoch) among a trial's system attributes.
HEARTBEAT_ATTR = "lossmatch_optuna_sweeper:heartbeat"

_PASSWORD_IN_URL = re.compile(
    r"(?P<head>[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/?#@\s]*:)(?P<secret>[^@\s]*)(?P<tail>@)"
)
_PASSWORD_IN_QUERY = re.compile(
    r"(?P<head>[?&](?:password|passwd|pwd)=)(?P<secret>[^&\s]*)", re.IGNORECASE
)


class StorageError(ValueError):
    """A ``storage`` value that names no storage the sweeper can open."""


def redact(text: Any) -> str:
    """``text`` with every URL password replaced by ``***`` (``user:pw@host`` and ``?password=``)."""
    text = _PASSWORD_IN_URL.sub(r"\g<head>***\g<tail>", str(text))
    return _PASSWORD_IN_QUERY.sub(r"\g<head>***", text)


def has_password(text: Any) -> bool:
    return redact(text) != str(text)


@dataclass(frozen=True)
class StorageSpec:
    kind: str  # "memory", "rdb" or "journal"
    url: str | None = None  # absolute: the same file whatever a job's working directory
    path: str | None = None  # the journal file

    @property
    def shareable(self) -> bool:
        """Whether another process can open the study."""
        return self.kind != "memory"

    def redacted(self) -> str:
        return "memory" if self.url is None else redact(self.url)

    def dashboard_target(self) -> str | None:
        """What ``optuna-dashboard`` takes: the RDB URL or the journal file's path."""
        if self.kind == "journal":
            return self.path
        return None if self.url is None else redact(self.url)


def parse_storage(value: str | None) -> StorageSpec:
    if value is None or str(value).strip() in ("", "null", "None"):
        return StorageSpec("memory")
    value = str(value).strip()
    if value.startswith("journal:"):
        if not value.startswith("journal:///"):
            raise StorageError(
                f"storage {redact(value)!r}: write a journal file as journal:///relative.log or journal:////absolute.log"
            )
        return _journal(value[len("journal:///") :])
    if "://" in value:
        scheme, rest = value.split("://", 1)
        path = rest[1:] if rest.startswith("/") else ""
        if (
            scheme.startswith("sqlite")
            and path
            and path != ":memory:"
            and not path.startswith("/")
        ):
            # sqlite:///relative.db is relative to the working directory: pin it, as a job
            # launched elsewhere (hydra.job.chdir, another launcher) must open the same file.
            value = f"{scheme}:///{os.path.abspath(path)}"
        return StorageSpec("rdb", url=value)
    if value.endswith(".log"):
        return _journal(value)
    raise StorageError(
        f"storage {redact(value)!r} is not a storage: expected null (in memory), an RDB URL "
        "(sqlite:///sweeps.db, postgresql://user@host/db), journal:///file.log or a path ending in .log"
    )


def _journal(path: str) -> StorageSpec:
    if not path:
        raise StorageError(
            "storage journal:/// names no file: write journal:///sweeps.log"
        )
    path = os.path.abspath(path)
    return StorageSpec("journal", url=f"journal:///{path}", path=path)


def open_storage(
    spec: StorageSpec,
    *,
    heartbeat_interval: int | None = None,
    grace_period: int | None = None,
    max_retry: int | None = None,
) -> Any:
    """The Optuna storage object for ``spec``; None for in memory (Optuna makes its own).

    With ``heartbeat_interval`` (the sweeper), an RDB storage is opened with Optuna's heartbeat
    and a retry callback for stale trials; jobs open it without.
    """
    import optuna

    if spec.kind == "memory":
        return None
    try:
        if spec.kind == "journal":
            os.makedirs(os.path.dirname(spec.path), exist_ok=True)
            return optuna.storages.JournalStorage(
                optuna.storages.journal.JournalFileBackend(spec.path)
            )
        kwargs: dict = {}
        if spec.url.startswith("sqlite"):
            # Several processes write one SQLite file (heartbeats, reports, tells): wait for the
            # lock instead of failing after SQLite's default 5 s.
            kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
        if heartbeat_interval is not None:
            kwargs.update(
                heartbeat_interval=heartbeat_interval,
                grace_period=grace_period,
                heartbeat_stale_trial_callback=retry_callback(max_retry),
            )
        # Processes that open a fresh database at the same moment race to create Optuna's
        # tables (the loser gets an IntegrityError on alembic_version): try again, as the
        # winner's tables are there a moment later.
        for attempt in range(5):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter(
                        "ignore", optuna.exceptions.ExperimentalWarning
                    )  # heartbeat: experimental
                    return optuna.storages.RDBStorage(spec.url, **kwargs)
            except Exception:
                if attempt == 4:
                    raise
                time.sleep(0.2 + random.random() * (attempt + 1))
    except Exception as err:
        # Drivers put the URL into their messages; say what failed without the password.
        raise StorageError(
            f"cannot open storage {spec.redacted()}: {redact(err)}"
        ) from None


def retry_callback(max_retry: int | None) -> Any:
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=max_retry)


def study_trial_id(storage: Any, study_name: str, number: int) -> int:
    """The storage's id of trial ``number``, through public BaseStorage calls only."""
    study_id = storage.get_study_id_from_name(study_name)
    return storage.get_trial_id_from_study_id_trial_number(study_id, number)


def beat(spec: StorageSpec, storage: Any, trial_id: int) -> None:
    """Record that the trial's sweeper is alive."""
    if spec.kind == "rdb":
        storage.record_heartbeat(trial_id)
    elif spec.kind == "journal":
        storage.set_trial_system_attr(trial_id, HEARTBEAT_ATTR, time.time())


class Heartbeat:
    """Beats for the given trials every ``interval`` seconds while a batch runs (a thread)."""

    def __init__(
        self, spec: StorageSpec, storage: Any, trial_ids: Iterable[int], interval: float
    ) -> None:
        self._spec, self._storage, self._ids, self._interval = (
            spec,
            storage,
            list(trial_ids),
            interval,
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="optuna-sweeper-heartbeat", daemon=True
        )

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            for trial_id in self._ids:
                try:
                    beat(self._spec, self._storage, trial_id)
                except (
                    Exception
                ):  # a finished trial (told by a job's pruning) or a storage hiccup
                    pass

    def __enter__(self) -> Heartbeat:
        if self._spec.shareable:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


def fail_stale_trials(
    study: Any, spec: StorageSpec, grace_period: float, max_retry: int | None
) -> list:
    """Fail the running trials whose sweeper stopped beating; enqueue their retries.

    Returns the numbers of the trials this process failed.
    """
    import optuna
    from optuna.trial import TrialState

    if spec.kind == "memory":
        return []
    if spec.kind == "rdb":
        before = {
            t.number
            for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        after = {
            t.number
            for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        }
        return sorted(before - after - _finished_elsewhere(study, before - after))
    # Journal: the same rule by hand (Optuna 5's JournalStorage has no heartbeat). A trial that
    # never beat counts from its start, so a sweeper killed right after ask is caught too.
    failed = []
    now = time.time()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        started = trial.datetime_start.timestamp() if trial.datetime_start else now
        last = max(float(trial.system_attrs.get(HEARTBEAT_ATTR, 0.0)), started)
        if now - last <= grace_period:
            continue
        try:
            study.tell(trial.number, state=TrialState.FAIL)
        except (
            Exception
        ):  # another sweeper failed it (or its own sweeper told it) first
            continue
        failed.append(trial.number)
        retry_callback(max_retry)(study, trial)
    return failed


def _finished_elsewhere(study: Any, numbers: set) -> set:
    """Of the trials that left RUNNING during fail_stale_trials, those that did not become FAIL."""
    from optuna.trial import TrialState

    return {
        t.number
        for t in study.get_trials(deepcopy=False)
        if t.number in numbers and t.state != TrialState.FAIL
    }
