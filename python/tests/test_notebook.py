"""The quickstart notebook runs headless from top to bottom (so it cannot rot)."""

import os

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


def test_quickstart_notebook_executes():
    path = os.path.join(EXAMPLES, "quickstart.ipynb")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": EXAMPLES}}
    )
    client.execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    # The split table, the ROC plot and the predictions' HTML view were rendered.
    kinds = [k for o in outputs for k in o.get("data", {})]
    assert "image/png" in kinds
    assert any("predicted_is_adelie" in o.get("data", {}).get("text/html", "") for o in outputs)


def test_tuning_progress_shows_in_the_notebook(tmp_path):
    """A cell running ml_tune shows each trial's line under it, as it runs."""
    penguins = os.path.join(os.path.dirname(EXAMPLES), "..", "data", "penguins.parquet")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import mlfusion\n"
            "ctx = mlfusion.SessionContext()\n"
            f"ctx.set('mlfusion.registry', {str(tmp_path / 'registry')!r})\n"
            "ctx.sql(\"SELECT trial_id FROM ml_tune('nb', "
            f"'{os.path.abspath(penguins)}', 'species', "
            "'model_type=logistic_reg, trials=3, folds=3')\").to_pandas()"
        )
    ]
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3")
    client.execute()
    streams = [o for o in nb.cells[0].outputs if o.output_type == "stream"]
    text = "".join(o.text for o in streams if o.name == "stderr")
    assert "ml_tune nb: trial 1 of 3" in text and "ml_tune nb: trial 3 of 3" in text, text
