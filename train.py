"""Train a matcher: ``python train.py [group=option ...] [key=value ...]``.

Thin Hydra entry point; the work is in ``lossmatch.pipeline.run``. Returns the
validation objective (``optimized_metric``) for sweepers. Input errors end the
run with one line and exit status 2 (``debug=true`` shows the traceback).
"""

import os
from pathlib import Path

os.environ.setdefault("PROJECT_ROOT", str(Path(__file__).resolve().parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # keep TensorFlow's C++ start-up chatter out of the log

import hydra  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from lossmatch.cli import objective, report_input_errors  # noqa: E402


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float:
    from lossmatch.training import train

    with report_input_errors(debug=bool(cfg.get("debug", False))):
        return objective(train(cfg), cfg)


if __name__ == "__main__":
    main()
