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
