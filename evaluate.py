#!/usr/bin/env python
"""Evaluate a learned LR controller: a thin wrapper of `lrctl evaluate` (see `--help`)."""

import sys

from lrctl.cli import main

if __name__ == "__main__":
    sys.exit(main(["evaluate", *sys.argv[1:]]))
