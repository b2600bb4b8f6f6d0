"""notebooks/quickstart.ipynb: stored without outputs, and runs top to bottom offline on the tiny model."""

from pathlib import Path

import nbformat
import pytest

NOTEBOOK = Path(__file__).parent.parent / "notebooks" / "quickstart.ipynb"


def test_the_notebook_is_stored_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)
    settings = [c for c in code if "USE_REAL_MODEL = False" in c.source]
    assert len(settings) == 1, "one clearly marked cell switches to the real model"


@pytest.mark.slow
def test_the_notebook_runs_top_to_bottom_on_the_tiny_model(tmp_path, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the kernel inherits the environment; one thread is fastest here
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()

    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "ready to train" in text
    assert "right, in format       format 13.00  correctness 10.0  total 23.00 of 23   (correct)" in text
    assert "answer block holds more than one number" in text
    assert "same reply as base model + adapter: True" in text
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) == 2  # rewards.png and diagnostics.png
    work = tmp_path / "runs" / "quickstart"
    assert (work / "run" / "final" / "adapter_config.json").is_file()
    assert (work / "merged" / "model.safetensors").is_file()
