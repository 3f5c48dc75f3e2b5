"""How a run's messages name its settings: ``resume=True`` to a Python caller, ``--resume`` on the command line.

The checks that raise the messages are written once (:mod:`.run`, :mod:`.folder`, :mod:`.recipes`);
the caller passes the wording in: ``fit``/``train`` default to :data:`PYTHON`, and
``minitorch-cnn train`` passes :data:`CLI`.

>>> PYTHON("resume", True), CLI("resume", True)
('resume=True', '--resume')
>>> PYTHON("epochs", 3), CLI("epochs", 3), PYTHON("out"), CLI("batch_size")
('epochs=3', '--epochs 3', 'out', '--batch-size')
"""

from __future__ import annotations


class Terms:
    """``terms(key)`` names a setting, ``terms(key, value)`` a setting with its value (``True``: a flag)."""

    def __init__(self, cli: bool):
        self.cli = cli

    def __call__(self, key: str, value=None) -> str:
        if self.cli:
            flag = "--" + key.replace("_", "-")
            return flag if value is None or value is True else f"{flag} {value}"
        return key if value is None else f"{key}={value!r}"

    def __repr__(self):
        return "CLI" if self.cli else "PYTHON"


PYTHON = Terms(cli=False)
CLI = Terms(cli=True)
