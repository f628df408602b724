"""A griffe extension for the API reference (mkdocs.yml).

- chatbench's docstrings title their doctests ``Example:``, which the Google parser reads as an
  admonition of Markdown text (so ``>>>`` lines would render as nested quotes); this reads it
  as an ``Examples:`` section, whose ``>>>`` lines render as Python code.
- ``chatbench.__all__`` is ``sorted(_HOMES)`` (names served lazily, PEP 562), which static
  analysis cannot evaluate; this reads the names from the ``_HOMES`` dict, so ``::: chatbench``
  lists every public name and stays in step with the package. A name whose module shares it
  (``chatbench.runner.simulate``, the function that shadows its module at run time) is pointed
  at the function, as at run time.
"""

from __future__ import annotations

import ast
import re
from typing import Any

import griffe

_EXAMPLE = re.compile(r"^(\s*)Example:[ \t]*$", flags=re.M)


class ChatbenchDocs(griffe.Extension):
    """Retitle ``Example:`` sections ``Examples:``; export ``chatbench``'s lazy names."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _EXAMPLE.sub(r"\1Examples:", obj.docstring.value)

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        if pkg.path == "chatbench" and "_HOMES" in pkg.members:
            homes = ast.literal_eval(str(pkg["_HOMES"].value))
            pkg.exports = sorted(homes)
            for name in homes:
                member = pkg.members.get(name)
                if member is None or not member.is_alias:
                    continue
                try:
                    target = member.final_target
                except griffe.AliasResolutionError:
                    continue
                if target.is_module and name in target.members:
                    pkg.set_member(name, griffe.Alias(name, f"{target.path}.{name}", parent=pkg))
