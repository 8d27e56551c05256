#!/usr/bin/env python
"""Train an LR controller: a thin wrapper of `lrctl train` (see `python train_controller.py --help`)."""

import sys

from lrctl.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
