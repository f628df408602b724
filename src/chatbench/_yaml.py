"""Loading YAML presets (graphs, personas) by name or path into validated pydantic models."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from chatbench.errors import ConfigError

ModelT = TypeVar("ModelT", bound=BaseModel)

# Where presets live inside the wheel (force-included from the top-level folders), and in a
# source checkout (editable installs do not apply force-include).
_PACKAGE_DATA = resources.files("chatbench") / "_data"
_CHECKOUT_ROOT = Path(__file__).resolve().parents[2]


def preset_dir(kind: str) -> Path:
    """The folder holding the shipped presets of one kind ("graphs", "graphs/grids", ...)."""
    packaged = Path(str(_PACKAGE_DATA / kind))
    return packaged if packaged.is_dir() else _CHECKOUT_ROOT / kind


def preset_names(kind: str) -> list[str]:
    """Names of the shipped presets of one kind, sorted."""
    return sorted(p.stem for p in preset_dir(kind).glob("*.yaml"))


def _singular(kind: str) -> str:
    """ "graphs" -> "graph", "graphs/grids" -> "grid"."""
    return kind.rsplit("/", 1)[-1].removesuffix("s")


def resolve_preset(kind: str, name_or_path: str | Path) -> Path:
    """Find a preset file from a shipped name (``novice``) or a path (``my/novice.yaml``).

    Raises:
        ConfigError: Neither a shipped name nor an existing file; lists the shipped names.
    """
    candidate = Path(name_or_path)
    if candidate.suffix in {".yaml", ".yml"} or candidate.parent != Path("."):
        if not candidate.is_file():
            raise ConfigError(f"{_singular(kind)} file not found: {candidate}")
        return candidate
    shipped = preset_dir(kind) / f"{name_or_path}.yaml"
    if not shipped.is_file():
        known = ", ".join(preset_names(kind)) or "none"
        raise ConfigError(f"unknown {_singular(kind)} {str(name_or_path)!r}; shipped: {known}")
    return shipped


def format_validation_error(source: str, error: ValidationError) -> str:
    """One line per problem, each naming the field, prefixed by the source (a file name)."""
    lines = []
    for problem in error.errors():
        field = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        lines.append(f"{source}: field '{field}': {problem['msg']}")
    return "\n".join(lines)


def load_yaml_model(model: type[ModelT], kind: str, name_or_path: str | Path) -> ModelT:
    """Load and validate a preset.

    Args:
        model: The pydantic model to validate against (``extra="forbid"``).
        kind: "graphs", "graphs/grids" or "personas".
        name_or_path: A shipped preset name or a path to a YAML file.

    Returns:
        The validated model; a missing ``name`` defaults to the file's stem.

    Raises:
        ConfigError: The file is missing, not YAML, not a mapping, or a field is invalid.
    """
    path = resolve_preset(kind, name_or_path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of fields, got {type(data).__name__}")
    if "name" in model.model_fields:
        data.setdefault("name", path.stem)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(str(path), exc)) from None
