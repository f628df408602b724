"""Old module paths of modules that moved into the layer packages, kept importable for one
release (0.2): ``import chatbench.questions`` gives ``chatbench.data.questions`` itself, with
a ``DeprecationWarning`` naming the new path."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from collections.abc import Sequence
from types import ModuleType

MOVED: dict[str, str] = {
    "chatbench.questions": "chatbench.data.questions",
    "chatbench.human_data": "chatbench.data.human_data",
    "chatbench.choice": "chatbench.scoring.choice",
    "chatbench.answers": "chatbench.scoring.answers",
    "chatbench.judges": "chatbench.scoring.judges",
    "chatbench.metrics": "chatbench.scoring.metrics",
    "chatbench.stats": "chatbench.scoring.stats",
    "chatbench.results": "chatbench.reporting.results",
    "chatbench.report": "chatbench.reporting.report",
    "chatbench.cli_report": "chatbench.cli.report",
    "chatbench.cli_train": "chatbench.cli.train",
    "chatbench.cli_paper": "chatbench.cli.paper",
    "chatbench.cli_baseline": "chatbench.cli.baseline",
    "chatbench._cli": "chatbench.cli._common",
    "chatbench.baseline_prompts": "chatbench.baselines.prompts",
    "chatbench.baseline_identity": "chatbench.baselines.identity",
}
"""Old module path -> where the module lives now."""


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves an old path to the moved module object (one module, two names)."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        """A spec for an old path; None for every other module."""
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        """The module at its new path (its own name and spec are left as they are)."""
        new = MOVED[spec.name]
        warnings.warn(f"{spec.name} moved to {new}; the old path goes in chatbench 0.3",
                      DeprecationWarning, stacklevel=2)
        return importlib.import_module(new)

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the module was loaded at its new path."""


def install_aliases() -> None:
    """Make the old paths importable (once per process)."""
    if not any(isinstance(finder, _MovedModuleFinder) for finder in sys.meta_path):
        sys.meta_path.append(_MovedModuleFinder())
