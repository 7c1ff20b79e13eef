"""MLflow's compare page in headless Chromium: open it for some runs, draw a box plot, take a screenshot.

    python tests/helpers/mlflow_ui.py URL OUT.png RUN_ID ...     (the README's screenshot)
"""

from __future__ import annotations

import json
import sys
import time
import urllib.parse
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers.chromium import Browser


def compare_page_url(url: str, run_ids: list[str], experiment_ids: list[str]) -> str:
    """The compare page of ``run_ids``, in the "Model training" view (MLflow 3 opens on GenAI)."""
    query = urllib.parse.urlencode(
        {"runs": json.dumps(run_ids), "experiments": json.dumps(experiment_ids), "workflowType": "machine_learning"},
        quote_via=urllib.parse.quote,
    )
    return f"{url}/#/compare-runs?{query}"


def compare_page_screenshot(url: str, run_ids: list[str], experiment_ids: list[str], path: Path | str, *,
                            x: str = "loss", y: str = "test_f1", width: int = 1500, height: int = 1000) -> str:
    """Screenshot of the compare page with a box plot of metric ``y`` by param ``x``; returns the page's text.

    Steps as a person takes them: close the assistant panel that MLflow opens on a first
    visit from localhost, open the compare page, choose the Box Plot tab, pick Y then X.
    """
    with Browser(width, height) as browser:
        browser.goto(f"{url}/#/?workflowType=machine_learning")
        has_close = "[...document.querySelectorAll('button')].some(b => b.getAttribute('aria-label') === 'Close')"
        browser.wait_for(f"document.body && {has_close}")
        browser.evaluate("[...document.querySelectorAll('button')].find(b => b.getAttribute('aria-label') === 'Close').click()")
        browser.goto(compare_page_url(url, run_ids, experiment_ids))
        browser.wait_for(f"document.body && document.body.innerText.includes('Comparing {len(run_ids)} Runs')")
        browser.click("Box Plot")
        # Two empty selects: the last one on the page is Y, so Y is picked first, then X.
        for choice in (y, x):
            browser.wait_for("document.body.innerText.includes('Select parameter or metric')")
            browser.click("Select parameter or metric", selector="*")
            browser.wait_for(f"[...document.querySelectorAll('[role=option]')].some(o => o.innerText.trim() === {json.dumps(choice)})")
            browser.click(choice, selector="[role=option]")
        browser.wait_for("document.querySelectorAll('.js-plotly-plot .box, .js-plotly-plot .trace').length > 0")
        time.sleep(1.0)  # plotly's transition
        browser.evaluate("window.scrollTo(0, 0)")
        browser.screenshot(path)
        return browser.text()


if __name__ == "__main__":
    import mlflow

    server, out, *runs = sys.argv[1:]
    client = mlflow.MlflowClient(tracking_uri=server)
    experiments = sorted({client.get_run(r).info.experiment_id for r in runs})
    compare_page_screenshot(server, runs, experiments, out)
    print(out)
