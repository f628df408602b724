"""Package namespaces whose names are imported on first use (PEP 562), so importing the
package (the CLI imports several) loads LangChain, LangGraph or pandas only when a name that
needs them is used."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(namespace: dict[str, Any], homes: Mapping[str, str]
               ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for a package whose public names live in ``homes``
    (name -> module): each is imported on first use, then kept in ``namespace``. A name
    whose home is the package's submodule of that name is the submodule itself.

    Example:
        >>> ns = {"__name__": "demo"}
        >>> getattr_, _ = lazy_names(ns, {"dedent": "textwrap"})
        >>> getattr_("dedent")("  x").strip(), "dedent" in ns
        ('x', True)
    """

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        module = importlib.import_module(home)
        # a submodule (``chatbench.testing``) is its own home: the name is the module
        value = module if home == f"{namespace['__name__']}.{name}" else getattr(module, name)
        namespace[name] = value  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *homes})

    return __getattr__, __dir__
