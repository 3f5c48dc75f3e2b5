"""Makes ``minitorch_cnn.kernels`` importable from a clone's root, installed or not.

The hot loops live in the top-level folder ``kernels/``, which an install maps into the package
(pyproject's ``package-dir``). Run from the clone's root, Python imports the local
``minitorch_cnn/`` folder rather than the installed copy (the current folder comes first on
``sys.path``), and that folder has no ``kernels`` inside. When the subpackage cannot be found any
other way, an import finder maps it to the clone's ``kernels/`` (beside this package's folder),
the same mapping the install makes; its modules then load from there as usual.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from pathlib import Path

NAME = __package__ + ".kernels"
FOLDER = Path(__file__).resolve().parent.parent / "kernels"


class KernelsFinder(importlib.abc.MetaPathFinder):
    """Finds ``minitorch_cnn.kernels`` in ``FOLDER``; every other name is left to the other finders."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != NAME:
            return None
        return importlib.util.spec_from_file_location(NAME, FOLDER / "__init__.py",
                                                      submodule_search_locations=[str(FOLDER)])


def mount() -> bool:
    """Install the finder when the kernels are not importable otherwise; True when it was installed."""
    if NAME in sys.modules or importlib.util.find_spec(NAME) is not None:
        return False
    if not (FOLDER / "__init__.py").is_file() or any(isinstance(f, KernelsFinder) for f in sys.meta_path):
        return False  # nothing to map: the import then fails with Python's own message
    sys.meta_path.append(KernelsFinder())
    return True


mount()
