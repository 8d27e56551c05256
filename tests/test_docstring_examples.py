"""Every Example in the package's docstrings runs as written (those that need a user's files are marked
`doctest: +SKIP`); a module whose optional extra is not installed is skipped."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import lrctl

MODULES = sorted(info.name for info in pkgutil.walk_packages(lrctl.__path__, "lrctl."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name is not None and err.name.split(".")[0] in {"lightning", "transformers", "ray", "accelerate"}:
            pytest.skip(f"{name} needs the optional {err.name}")
        raise
    failed, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, report=False,
                                verbose=False)
    assert failed == 0, f"{failed} docstring example(s) of {name} fail; run python -m doctest on its file"
