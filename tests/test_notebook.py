"""The tutorial notebook runs from top to bottom on tiny generated data."""

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).parents[1] / 'notebooks' / 'tutorial.ipynb'


def test_tutorial_notebook_executes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv('ALS4GAN_TUTORIAL_QUICK', '1')
    monkeypatch.setenv('ALS4GAN_TUTORIAL_DIR', str(tmp_path / 'work'))
    monkeypatch.delenv(
        'MPLBACKEND', raising=False
    )  # the kernel's inline backend shows figures
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name='python3',
        resources={'metadata': {'path': str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError on any failing cell
    outputs = [
        o for cell in notebook.cells if cell.cell_type == 'code' for o in cell.outputs
    ]
    assert not [o for o in outputs if o.output_type == 'error']
    images = [o for o in outputs if 'image/png' in o.get('data', {})]
    assert len(images) >= 5  # plot(), selection, curves, predictions, map
    work = tmp_path / 'work'
    assert (work / 'query' / 'selection.npy').is_file()
    assert (work / 'prediction' / 'new_scene_classes.tif').is_file()
    assert os.listdir(work / 's4gan')
