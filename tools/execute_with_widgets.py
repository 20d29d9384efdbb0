"""Execute notebooks in a Jupyter kernel and save them with their outputs and widget state, then `nbdev_clean` them.
For pages whose widgets the docs should show as they were at the end of a run (e.g. the live-view tutorial):

    python tools/execute_with_widgets.py nbs/12_tutorial.live_view.ipynb

Re-run it after converting the notebook from its source again (conversion drops the outputs)."""
import subprocess, sys
from pathlib import Path
import nbformat
from nbclient import NotebookClient

for path in map(Path, sys.argv[1:]):
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=900, kernel_name='python3', store_widget_state=True,
                   resources={'metadata': {'path': str(path.parent)}}).execute()
    nbformat.write(nb, path)
    subprocess.run(['nbdev_clean', '--fname', str(path)], check=True)
    n = len(nb.metadata.get('widgets', {}).get('application/vnd.jupyter.widget-state+json', {}).get('state', {}))
    print(f'{path}: executed, {n} widget models saved')
