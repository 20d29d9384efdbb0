"""Write README.md from nbs/index.ipynb, as `nbdev_readme` does, without Quarto (not installable here).

Markdown cells are copied; visible code cells become ```python blocks; `#| hide` cells are left out.
Usage: python tools/make_readme.py [--check]   (--check: exit 1 if README.md is out of date)"""
import json, sys
from pathlib import Path

root = Path(__file__).resolve().parents[1]

def render(nb_path=root/'nbs'/'index.ipynb')->str:
    nb = json.loads(nb_path.read_text())
    out = []
    for c in nb['cells']:
        src = ''.join(c['source']).strip('\n')
        if c['cell_type'] == 'markdown': out.append(src)
        elif c['cell_type'] == 'code':
            lines = src.split('\n')
            if any(l.replace(' ', '').startswith('#|hide') for l in lines): continue
            code = '\n'.join(l for l in lines if not l.startswith('#|')).strip('\n')
            if code: out.append(f'```python\n{code}\n```')
    return '\n\n'.join(out) + '\n'

if __name__ == '__main__':
    text, readme = render(), root/'README.md'
    if '--check' in sys.argv:
        if not readme.exists() or readme.read_text() != text:
            sys.exit('README.md is out of date with nbs/index.ipynb: run python tools/make_readme.py')
    else: readme.write_text(text)
