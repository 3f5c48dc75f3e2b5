"""``python -m minitorch_cnn``: the same as the ``minitorch-cnn`` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
