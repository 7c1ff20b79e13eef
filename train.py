"""Train a matcher: ``python train.py [group=option ...] [key=value ...]``.

Thin entry point: ``lossmatch.cli.main`` checks the command line (one line and exit
status 2 for bad input, before anything slow is imported), Hydra composes ``conf/``, and
``lossmatch.pipeline.run`` does the work. Returns the validation objective
(``optimized_metric``) for sweepers; the test split is never optimised.
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent
os.environ.setdefault("PROJECT_ROOT", str(ROOT))

from lossmatch.cli import main  # noqa: E402


def train(cfg) -> float:
    from lossmatch.cli import objective
    from lossmatch.pipeline import run

    return objective(run(cfg), cfg)


if __name__ == "__main__":
    main(train, config_dir=ROOT / "conf", config_name="train")
