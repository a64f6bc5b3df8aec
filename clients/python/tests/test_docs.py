"""The examples in the package's docstrings run (those needing a server are marked SKIP and
shown working by the other tests), and every public name has a docstring."""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil

import tessera_client

MODULES = sorted(m.name for m in pkgutil.iter_modules(tessera_client.__path__, "tessera_client."))


def test_docstring_examples() -> None:
    tried = 0
    for name in ["tessera_client", *MODULES]:
        if name == "tessera_client.__main__":
            continue  # running it is the command line
        result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, name
        tried += result.attempted
    assert tried >= 10  # the runner found the examples


def test_public_names_are_documented() -> None:
    for name in tessera_client.__all__:
        obj = getattr(tessera_client, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), name
            for attr, member in vars(obj).items():
                if inspect.isfunction(member) and not attr.startswith("_"):
                    assert inspect.getdoc(member), f"{name}.{attr}"
