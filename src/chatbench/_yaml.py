"""Loading YAML presets (graphs, personas) by name or path into validated pydantic models."""

from __future__ import annotations

import difflib
import re
import typing
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from chatbench._files import read_text
from chatbench.errors import ConfigError

ModelT = TypeVar("ModelT", bound=BaseModel)

MAX_ECHO_CHARS = 200
"""Longest piece of a file's content (a key, a value) that an error message repeats."""
MAX_PROBLEMS = 10
"""Most problems one validation error lists."""
MAX_MESSAGE_CHARS = 500
"""Longest message of one problem (validators echo at most ``MAX_ECHO_CHARS`` of the input;
this bounds the rest, such as a list of the allowed names)."""


def shorten(text: str, limit: int = MAX_ECHO_CHARS) -> str:
    """``text``, cut to ``limit`` characters with a note of how much was left out.

    Example:
        >>> shorten("x" * 300, 10)
        'xxxxxxxxxx... (290 more characters)'
    """
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


def close_names(word: str, known: Iterable[str], *, limit: int = 3) -> list[str]:
    """The names in ``known`` closest to ``word``, closest first (``difflib``, ignoring case);
    none for a word longer than ``MAX_ECHO_CHARS``."""
    if not word or len(word) > MAX_ECHO_CHARS:
        return []
    by_lower: dict[str, str] = {}
    for name in known:
        by_lower.setdefault(name.lower(), name)
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=limit, cutoff=0.6)
    return [by_lower[name] for name in close]


def suggestion(names: Sequence[str]) -> str:
    """``"did you mean 'a', 'b' or 'c'?"``, or ``""`` for no names."""
    shown = [repr(name) for name in names]
    if not shown:
        return ""
    listed = ", ".join(shown[:-1]) + " or " + shown[-1] if len(shown) > 1 else shown[0]
    return f"did you mean {listed}?"


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """``suggestion`` of the names in ``known`` closest to ``word``: ``""`` when none is close.

    Example:
        >>> did_you_mean("smolm2", ["smollm2", "openai", "hf"])
        "did you mean 'smollm2'?"
        >>> did_you_mean("zzz", ["smollm2"])
        ''
    """
    return suggestion(close_names(word, known))


class _PresetLoader(yaml.SafeLoader):
    """PyYAML's safe loader, without aliases and with unique keys.

    Aliases are refused: nested ones make a few hundred bytes expand to gigabytes ("billion
    laughs"), and a preset has no need of them. A repeated key is refused, not resolved to
    its last value. An integer too long for Python to read is reported where it is.
    """

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None,
                f"alias *{shorten(str(event.anchor), 40)}: aliases are not allowed; "
                "write the value out", event.start_mark,
            )
        return super().compose_node(parent, index)  # type: ignore[no-any-return]  # untyped

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[object, object]:
        self.flatten_mapping(node)
        first_line: dict[object, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                line = first_line.get(key)
            except TypeError:  # an unhashable key: the safe loader's own check reports it
                continue
            if line is not None:
                raise yaml.constructor.ConstructorError(
                    None, None,
                    f"duplicate key {shorten(repr(key), 60)} (first on line {line})",
                    key_node.start_mark,
                )
            first_line[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        try:
            return super().construct_yaml_int(node)  # type: ignore[no-any-return]  # untyped
        except ValueError:  # more digits than int() reads (sys.get_int_max_str_digits)
            raise yaml.constructor.ConstructorError(
                None, None, "an integer with too many digits", node.start_mark
            ) from None


_PresetLoader.add_constructor("tag:yaml.org,2002:int", _PresetLoader.construct_yaml_int)

# Plain scalars are resolved as YAML 1.2 does (its core schema), not as PyYAML's YAML 1.1:
# ``010`` is not octal 8, ``1:30`` not the sexagesimal 90, and ``yes``/``no``/``on``/``off``
# not booleans. They are read as written, as text: a text field (a scripted turn, a
# persona's words) keeps them, and a number or boolean field refuses them, with a hint
# (``yaml11_hint``). Decimal, ``0x`` and ``0b`` integers, decimals, ``.inf``/``.nan``,
# ``true``/``false`` and ``null`` resolve as before.
_BOOL, _INT, _FLOAT = (f"tag:yaml.org,2002:{kind}" for kind in ("bool", "int", "float"))
_PresetLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_BOOL, _INT, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_PresetLoader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_PresetLoader.add_implicit_resolver(
    _INT, re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"))
_PresetLoader.add_implicit_resolver(
    _FLOAT, re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
                       |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
                       |[-+]?\.(?:inf|Inf|INF)
                       |\.(?:nan|NaN|NAN))$""", re.X), list("-+0123456789."))

_YAML11_ONLY = re.compile(
    r"^(?:[-+]?0[0-9_]+|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?"
    r"|yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF)$")


def yaml11_hint(value: object) -> str:
    """For text that YAML 1.1 would read as a number or boolean (``010``, ``1:30``,
    ``yes``), a note saying how to write what was meant; ``""`` otherwise."""
    if not isinstance(value, str) or not _YAML11_ONLY.match(value):
        return ""
    return (f"; {shorten(value, 40)} is read as text, as YAML 1.2 reads it (not as YAML 1.1's "
            "octal 010, sexagesimal 1:30 or yes/no/on/off): write a decimal number, or true/false")

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
        ConfigError: Neither a shipped name nor an existing path; lists the shipped names.
    """
    candidate = Path(name_or_path)
    if candidate.suffix in {".yaml", ".yml"} or candidate.parent != Path("."):
        if not _exists(candidate):  # a folder or unreadable file: read_text says which
            raise ConfigError(f"{_singular(kind)} file not found: {shorten(str(candidate), 4096)}")
        return candidate
    shipped = preset_dir(kind) / f"{name_or_path}.yaml"
    if not _exists(shipped) or not shipped.is_file():
        names = preset_names(kind)
        hint = did_you_mean(str(name_or_path), names)
        raise ConfigError(
            f"unknown {_singular(kind)} {shorten(str(name_or_path))!r}; "
            f"{hint + ' ' if hint else ''}shipped: {', '.join(names) or 'none'}")
    return shipped


def _exists(path: Path) -> bool:
    """``path.exists()``, False for a name the OS refuses (too long, a NUL byte)."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def _field_names(model: type[BaseModel], path: Sequence[int | str]) -> list[str]:
    """The field names of the model found at ``path`` inside ``model`` (through fields whose
    type is a model, or an optional one); empty where the path leads elsewhere."""
    for part in path:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            return []
        nested = [arg for arg in (field.annotation, *typing.get_args(field.annotation))
                  if isinstance(arg, type) and issubclass(arg, BaseModel)]
        if not nested:
            return []
        model = nested[0]
    return list(model.model_fields)


def format_validation_error(
    source: str, error: ValidationError, model: type[BaseModel] | None = None
) -> str:
    """One line per problem, each naming the field, prefixed by the source (a file name).

    Given the ``model`` that was validated, an unknown key also gets the closest field names
    ("did you mean 'max_turns'?").
    """
    problems = error.errors()
    source = shorten(source)
    lines = []
    for problem in problems[:MAX_PROBLEMS]:
        field = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        message = shorten(problem["msg"].removeprefix("Value error, "), MAX_MESSAGE_CHARS)
        loc = problem["loc"]
        if problem["type"] in ("int_type", "bool_type", "float_type", "int_parsing",
                               "bool_parsing", "float_parsing"):
            message += yaml11_hint(problem.get("input"))
        if model is not None and problem["type"] == "extra_forbidden" and loc:
            hint = did_you_mean(str(loc[-1]), _field_names(model, loc[:-1]))
            message = f"{message}; {hint}" if hint else message
        lines.append(f"{source}: field '{shorten(field, 80)}': {message}")
    if len(problems) > MAX_PROBLEMS:
        lines.append(f"{source}: and {len(problems) - MAX_PROBLEMS} more problems")
    return "\n".join(lines)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """The parser's complaint on one line, with where it was found (PyYAML's own message
    spans several lines and quotes the file)."""
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None)
    if problem is None:
        return shorten(" ".join(str(exc).replace('\n  in "<unicode string>",', " at").split()))
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"{where}{shorten(problem)}"


def load_yaml_model(model: type[ModelT], kind: str, name_or_path: str | Path) -> ModelT:
    """Load and validate a preset.

    Args:
        model: The pydantic model to validate against (``extra="forbid"``).
        kind: "graphs", "graphs/grids" or "personas".
        name_or_path: A shipped preset name or a path to a YAML file.

    Returns:
        The validated model; a missing ``name`` defaults to the file's stem.

    Raises:
        ConfigError: The file is missing, a folder, unreadable, not UTF-8, not YAML, not a
            mapping, or a field is invalid.
    """
    path = resolve_preset(kind, name_or_path)
    text = read_text(path, f"{_singular(kind)} file")
    try:
        data = yaml.load(text, Loader=_PresetLoader)  # noqa: S506  (a safe loader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {_yaml_problem(exc)}") from None
    except RecursionError:  # nesting deeper than Python's stack: a broken or hostile file
        raise ConfigError(f"{path}: not valid YAML: nested too deeply") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of fields, got {type(data).__name__}")
    if "name" in model.model_fields:
        data.setdefault("name", path.stem)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(str(path), exc, model)) from None


def load_yaml_items(text: str, source: str, *, key: str) -> list[tuple[int, object]]:
    """The items of a YAML list, each with the line it starts on: the document is the list,
    or a mapping whose ``key`` holds it (and nothing else). Read by the same strict loader as
    presets (no aliases, no repeated keys, YAML 1.2 scalars).

    Raises:
        ConfigError: Not YAML, or not such a list; named by ``source``.
    """
    loader = _PresetLoader(text)
    try:
        node = loader.get_single_node()
        if isinstance(node, yaml.MappingNode):
            data = loader.construct_mapping(node)
            if set(data) != {key}:
                raise ConfigError(f"{source}: expected a list, or a mapping with only the key "
                                  f"{key!r}; got keys {shorten(repr(sorted(map(str, data))))}")
            node = next(value for name, value in node.value
                        if loader.construct_object(name) == key)
        if not isinstance(node, yaml.SequenceNode):
            kind = "nothing" if node is None else type(loader.construct_object(node)).__name__
            raise ConfigError(f"{source}: expected a list of {key}, got {kind}")
        return [(item.start_mark.line + 1, loader.construct_object(item, deep=True))
                for item in node.value]
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {_yaml_problem(exc)}") from None
    except RecursionError:
        raise ConfigError(f"{source}: not valid YAML: nested too deeply") from None
    finally:
        loader.dispose()
