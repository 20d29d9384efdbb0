"""For the per-model scripts still in this folder (authors' releases not yet rows of tools/equivalence.py): the shared
helpers, which live in tools/equivalence.py (not part of the library, not a test)."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from equivalence import randomise, maxdiff, n_params   # noqa: F401  (tools/equivalence.py)
