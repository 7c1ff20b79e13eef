"""Score two new tables with a trained matcher and write matches.csv.

    python pipelines/predict.py export=DIR data.left=a.csv data.right=b.csv [data.id_left=id ...]

``export`` is an export directory written by train.py or an MLflow URI ``runs:/<run_id>/model``.
A missing or damaged export, table or column is one line and exit status 2.
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PROJECT_ROOT", str(ROOT))

from lossmatch.cli import main  # noqa: E402


def predict(cfg) -> None:
    from hydra.core.hydra_config import HydraConfig

    from lossmatch.common import plain
    from lossmatch.data.base import read_table, resolve_path
    from lossmatch.export import load_export
    from lossmatch.predict import predict_matches

    export_ref = str(cfg.export)
    if "://" not in export_ref and not export_ref.startswith("runs:/"):
        export_ref = str(resolve_path(export_ref, "export", directory=True))
    exported = load_export(export_ref, tracking_uri=cfg.tracking.uri)
    d = cfg.data
    id_left = d.id_left or exported.id_left
    id_right = d.id_right or exported.id_right
    left = read_table(resolve_path(d.left, "data.left"), "data.left", id_column=id_left, encoding=d.encoding)
    right = read_table(resolve_path(d.right, "data.right"), "data.right", id_column=id_right, encoding=d.encoding)
    matches = predict_matches(
        exported, left, right, id_left=id_left, id_right=id_right,
        blocking=plain(d.blocking), batch_size=int(cfg.batch_size), progress=None,
    )
    out = Path(cfg.output)
    if not out.is_absolute():
        out = Path(HydraConfig.get().runtime.output_dir) / out
    matches.to_csv(out, index=False)
    print(f"[lossmatch] {int(matches['is_match'].sum()):,} matches among {len(matches):,} candidate pairs -> {out}")


if __name__ == "__main__":
    main(predict, config_dir=ROOT / "conf", config_name="predict")
