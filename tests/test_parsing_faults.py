"""Injected faults (issue 12): hung model calls, resource bombs in config files, and lax
parsing. Fake models only; each test takes seconds.

4. A timed model call runs on a thread of its own: a hung call blocks no other call, time
   spent waiting for a thread does not count, and the process exits when the run is done.
8. YAML aliases are refused, factor values are scalars, a grid's size is bounded, and error
   messages stay short whatever the input.
10. Config fields keep their types (no ``true`` for 1, no ``"yes"`` for true), duplicate YAML
    keys are refused, every question format goes through the same validation, invisible
    characters do not hide an answer, ``fake:`` delays are only a trailing ``@<number>``, and
    a missing provider package is named.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ValidationError

from chatbench._yaml import MAX_PROBLEMS
from chatbench.config import MAX_GRID_CELLS, GraphSpec, RunConfig, load_graph_spec, load_grid
from chatbench.data.questions import (
    MAX_TEXT_CHARS,
    Question,
    load_jsonl,
    load_mmlu_csv,
    load_questions,
    load_redux_csv,
)
from chatbench.errors import ConfigError, MissingDependencyError
from chatbench.graphs.builder import graph_spec
from chatbench.models import registry
from chatbench.models.fake import FakeChatModel
from chatbench.models.invoke import ModelCallTimeout, invoke_chat
from chatbench.models.registry import get_chat_model
from chatbench.personas import load_persona
from chatbench.scoring.choice import extract_choice
from tests.conftest import cli

# --------------------------------------------------------------------------------------------
# 4. Timeouts that starve, and runs that do not exit
# --------------------------------------------------------------------------------------------

NO_SETTINGS = GraphSpec().judge.model_copy(update={"temperature": None, "max_tokens": None})
PROMPT = [HumanMessage(content="hi")]


HANG_GUARD_S = 600.0
"""How long a hung call waits at most: a timeout that never fires fails its test (the call
returns "late") instead of hanging the suite. No test waits for it otherwise."""


class HungModel(BaseChatModel):
    """A model whose calls wait on ``release`` (never set while the test runs; at most
    ``HANG_GUARD_S``)."""

    release: Any

    @property
    def _llm_type(self) -> str:
        return "hung-test"

    def _generate(self, messages: list[BaseMessage], stop: Any = None,
                  run_manager: Any = None, **kw: Any) -> ChatResult:
        self.release.wait(HANG_GUARD_S)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content="late"))])


@pytest.fixture
def hung() -> Iterator[HungModel]:
    """A hung model; its calls are let go after the test, so no thread outlives it long."""
    release = threading.Event()
    yield HungModel(release=release)
    release.set()


def _at_once(n: int, call: Callable[[], object]) -> list[object]:
    """``n`` calls of ``call`` from ``n`` threads at once; each result or exception."""
    start = threading.Barrier(n)

    def outcome(_: int) -> object:
        start.wait()  # every call is made at the same moment, none staggered by thread starts
        try:
            return call()
        except Exception as exc:  # noqa: BLE001  (the outcome is what the test checks)
            return exc

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(outcome, range(n)))


@pytest.mark.parametrize("hung_calls", [64, 100, 150])
def test_hung_calls_do_not_starve_later_calls(hung: HungModel, hung_calls: int) -> None:
    outcomes = _at_once(hung_calls, lambda: invoke_chat(hung, PROMPT, NO_SETTINGS, timeout_s=0.1))
    assert all(isinstance(o, ModelCallTimeout) for o in outcomes)
    healthy = get_chat_model("fake:say:fine")
    for _ in range(3):  # the hung calls still hold their threads
        assert invoke_chat(healthy, PROMPT, NO_SETTINGS, timeout_s=2.0).text == "fine"


@pytest.mark.parametrize(("calls", "delay_s", "timeout_s"), [(256, 0.5, 1.4), (192, 0.3, 0.8)])
def test_waiting_for_a_thread_does_not_count_toward_the_timeout(
    calls: int, delay_s: float, timeout_s: float
) -> None:
    slow = FakeChatModel(kind="say", text="ok", delay_s=delay_s)
    outcomes = _at_once(calls, lambda: invoke_chat(slow, PROMPT, NO_SETTINGS, timeout_s=timeout_s))
    assert [getattr(o, "text", o) for o in outcomes] == ["ok"] * calls


@pytest.mark.parametrize("timeout_s", [0.1, 0.05])
def test_a_call_longer_than_its_timeout_still_times_out(hung: HungModel, timeout_s: float) -> None:
    """The call cannot finish before the test lets it go, so only the timeout can end it.
    No clock is read: load can make the timeout fire late, never let the call win."""
    with pytest.raises(ModelCallTimeout, match=f"{timeout_s:g} s"):
        invoke_chat(hung, PROMPT, NO_SETTINGS, timeout_s=timeout_s)
    assert not hung.release.is_set()  # the call was still running when it timed out


def test_a_model_error_is_raised_as_it_is(hung: HungModel) -> None:
    with pytest.raises(ConnectionError, match="fake:fail"):
        invoke_chat(get_chat_model("fake:fail"), PROMPT, NO_SETTINGS, timeout_s=1.0)


@pytest.mark.parametrize(("user", "assistant"), [
    ("fake:user", "fake:echo@3600"),  # every assistant call hangs
    ("fake:user@3600", "fake:echo"),  # the simulated user's first call hangs
])
@pytest.mark.slow
def test_process_exits_soon_after_its_summary_with_a_hung_call(
    tmp_path: Path, user: str, assistant: str
) -> None:
    """A model sleeps an hour a call; the run times its calls out and must then exit."""
    args = [sys.executable, "-m", "chatbench.cli", "run", "--user", user,
            "--assistant", assistant, "--call-timeout", "0.3", "--max-attempts", "2",
            "--retry-wait", "0", "--limit", "2", "--out", str(tmp_path / "r.sqlite")]
    env = {**os.environ, "COLUMNS": "400"}
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          cwd=tmp_path, env=env) as child:
        try:
            assert child.stdout is not None
            output = []
            for line in child.stdout:  # the summary's last line: "N conversations in ..."
                output.append(line)
                if " conversations in " in line:
                    break
            try:  # a hung call that kept the process alive would keep it an hour
                code = child.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pytest.fail("the run did not exit within 60 s of its summary: "
                            + "".join(output))
        finally:
            child.kill()
    assert code == 3, "".join(output)  # every conversation failed: exit 3, not 0
    assert "ModelCallTimeout" in "".join(output)


# --------------------------------------------------------------------------------------------
# 8. Resource bombs in config
# --------------------------------------------------------------------------------------------

LOADERS: dict[str, Callable[[Path], object]] = {
    "graph": graph_spec, "persona": load_persona, "grid": load_grid,
}
"""What reads each kind of file as a run does: a graph's names are checked as it is loaded for a
run (``graph_spec``), not by ``load_graph_spec`` alone."""


def laughs(levels: int, width: int = 9) -> str:
    """A "billion laughs" YAML: each level an anchored list of ``width`` aliases of the last."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels + 1):
        items = ", ".join([f"*l{level - 1}"] * width)
        lines.append(f"l{level}: &l{level} [{items}]")
    return "\n".join(lines) + "\n"


BOMBS = {
    "graph": lambda body: body + f"scripted_turns: *l{BOMB_LEVELS}\n",
    "persona": lambda body: body + f"background: x\nbehaviour: *l{BOMB_LEVELS}\n",
    "grid": lambda body: body + f"factors:\n  persona: *l{BOMB_LEVELS}\n",
}
BOMB_LEVELS = 7


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _config_error(load: Callable[[Path], object], path: Path, names: str | None = None) -> str:
    """The ConfigError message loading ``path`` gives, checked to be short and to name the
    file (or ``names``), and the loader not to hang (a generous bound: a bomb expanded would
    take minutes or exhaust memory; load on the machine never comes near it)."""
    started = time.monotonic()
    with pytest.raises(ConfigError) as info:
        load(path)
    assert time.monotonic() - started < 60.0, "the loader hung on a resource bomb"
    message = str(info.value)
    assert len(message) < 2500 and message.count("\n") <= MAX_PROBLEMS, message[:5000]
    assert (names or str(path)) in message
    return message


@pytest.mark.parametrize("kind", LOADERS)
@pytest.mark.parametrize("levels", [1, 3, BOMB_LEVELS])
def test_yaml_aliases_are_refused(tmp_path: Path, kind: str, levels: int) -> None:
    text = laughs(levels).replace(f"&l{levels} ", f"&l{levels} ")  # top anchor used below
    body = BOMBS[kind](text).replace(f"*l{BOMB_LEVELS}", f"*l{levels}")
    message = _config_error(LOADERS[kind], _write(tmp_path / f"{kind}.yaml", body))
    assert "alias" in message and "line " in message


@pytest.mark.parametrize("kind", LOADERS)
def test_a_scalar_alias_is_refused_too(tmp_path: Path, kind: str) -> None:
    body = {"graph": "description: &d hi\nname: *d\n",
            "persona": "background: &b hi\ndescription: *b\n",
            "grid": "description: &d hi\nfactors: {persona: [*d]}\n"}[kind]
    assert "alias" in _config_error(LOADERS[kind], _write(tmp_path / "a.yaml", body))


@pytest.mark.parametrize("value", ["[novice, [expert]]", "[{a: 1}]", "[[null]]", "[[]]"])
def test_factor_values_are_scalars(tmp_path: Path, value: str) -> None:
    path = _write(tmp_path / "g.yaml", f"factors:\n  persona: {value}\n")
    message = _config_error(load_grid, path)
    assert "factors" in message and "scalars" in message


def test_scalar_factor_values_of_each_kind_load(tmp_path: Path) -> None:
    path = _write(tmp_path / "g.yaml", "factors:\n  persona: [null, novice]\n"
                  "  user_cot: [false, true]\n  max_turns: [2, 3]\n"
                  "  user: ['fake:echo', 'fake:echo@0.5']\n")
    assert len(load_grid(path).cells()) == 16


@pytest.mark.parametrize(("factors", "values"), [(6, 40), (3, 11), (2, 1001)])
def test_grid_size_is_bounded(tmp_path: Path, factors: int, values: int) -> None:
    names = ["max_turns", "user", "assistant", "judge", "persona", "accept"][:factors]
    lines = [f"  {name}: [{', '.join(str(i) for i in range(values))}]" for name in names]
    path = _write(tmp_path / "g.yaml", "factors:\n" + "\n".join(lines) + "\n")
    message = _config_error(load_grid, path)
    assert f"at most {MAX_GRID_CELLS}" in message


@pytest.mark.parametrize("field", ["replicates: 1000000000", "replicates: 1001"])
def test_replicates_are_bounded(tmp_path: Path, field: str) -> None:
    path = _write(tmp_path / "g.yaml", f"factors: {{user_cot: [false]}}\n{field}\n")
    assert "replicates" in _config_error(load_grid, path)


LONG = "k" * 100_000


@pytest.mark.parametrize(("kind", "body"), [  # "? KEY": PyYAML reads long keys only so
    ("grid", f"factors:\n  ? {LONG}\n  : [1]\n"),
    ("grid", f"factors:\n  persona: [1]\n? {LONG}\n: 1\n"),
    ("graph", f"? {LONG}\n: 1\n"),
    ("graph", f"simulator: {LONG}\n"),
    ("persona", f"background: x\n? {LONG}\n: y\n? {LONG}x\n: y\n"),
    ("graph", "max_turns: " + "9" * 5000 + "\n"),
    ("graph", "".join(f"unknown_{i}: 1\n" for i in range(5000))),
])
def test_error_messages_stay_short(tmp_path: Path, kind: str, body: str) -> None:
    _config_error(LOADERS[kind], _write(tmp_path / "x.yaml", body))


@pytest.mark.parametrize("factors", [
    f"user_cot: [{LONG}]", f"max_turns: [1, {LONG}]", f"simulator: [{LONG}]",
    f"user_cot: [true]\n  view: [{LONG}]",
])
def test_grid_cell_errors_stay_short(tmp_path: Path, factors: str) -> None:
    """A bad cell is reported with the values that make it, cut short."""
    from chatbench.runner.ablate import plan_grid

    grid = load_grid(_write(tmp_path / "g.yaml", f"factors:\n  {factors}\nuser: fake:user\n"
                            "assistant: fake:echo\n"))
    _config_error(lambda _: plan_grid(grid), tmp_path / "g.yaml", names="grid 'g', cell")


# --------------------------------------------------------------------------------------------
# 10. Lax parsing: field types and duplicate keys
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("field", "value"), [
    ("max_turns", "true"), ("max_turns", "'5'"), ("max_turns", "2.0"),
    ("user_cot", "'yes'"), ("user_cot", "1"), ("user_cot", "'true'"),
    ("ask_user_satisfaction", "'no'"),
])
def test_graph_fields_keep_their_types(tmp_path: Path, field: str, value: str) -> None:
    path = _write(tmp_path / "g.yaml", f"{field}: {value}\n")
    assert f"field '{field}'" in _config_error(load_graph_spec, path)


@pytest.mark.parametrize(("role_field", "value"), [
    ("temperature", "'0.5'"), ("temperature", "true"), ("temperature", "'1'"),
    ("max_tokens", "'10'"), ("max_tokens", "true"), ("max_tokens", "10.0"),
])
def test_role_settings_keep_their_types(tmp_path: Path, role_field: str, value: str) -> None:
    path = _write(tmp_path / "g.yaml", f"user:\n  {role_field}: {value}\n")
    assert f"user.{role_field}" in _config_error(load_graph_spec, path)


@pytest.mark.parametrize("field", ["limit: true", "replicates: '2'", "seed: 1.0"])
def test_grid_fields_keep_their_types(tmp_path: Path, field: str) -> None:
    path = _write(tmp_path / "g.yaml", f"factors: {{user_cot: [false]}}\n{field}\n")
    assert f"field '{field.split(':')[0]}'" in _config_error(load_grid, path)


def test_well_typed_values_still_load(tmp_path: Path) -> None:
    path = _write(tmp_path / "g.yaml", "max_turns: 3\nuser_cot: true\n"
                  "user: {temperature: 1, max_tokens: 20}\n")
    spec = load_graph_spec(path)
    assert (spec.max_turns, spec.user_cot, spec.user.temperature) == (3, True, 1.0)


@pytest.mark.parametrize("fields", [
    {"limit": True}, {"seed": "3"}, {"replicates": 2.0}, {"concurrency": "8"},
    {"call_timeout_s": "5"}, {"retry_wait_s": True}, {"call_timeout_s": float("inf")},
])
def test_run_config_keeps_its_types(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        RunConfig(**fields)


def test_run_config_takes_typed_values() -> None:
    config = RunConfig(limit=2, seed=3, call_timeout_s=5, retry_wait_s=0, out="x.sqlite")
    assert config.call_timeout_s == 5.0 and config.out == Path("x.sqlite")



def test_cli_options_and_environment_still_convert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Typer hands over typed values, from options and from CHATBENCH_* variables alike."""
    monkeypatch.setenv("CHATBENCH_CALL_TIMEOUT", "30")
    monkeypatch.setenv("CHATBENCH_SEED", "4")
    monkeypatch.setenv("CHATBENCH_REPLICATES", "2")
    code, output = cli(monkeypatch, capsys, "run", "--user", "fake:user", "--assistant",
                       "fake:echo", "--limit", "1", "--retry-wait", "0", "--concurrency", "2",
                       "--out", str(tmp_path / "r.sqlite"))
    assert code == 0, output
    assert "2 conversations in" in output


DUPLICATES = {
    "graph": ("max_turns: 3\nuser_cot: false\nmax_turns: 4\n", "max_turns", 3, 1),
    "graph-nested": ("user:\n  temperature: 1\n  temperature: 0\n", "temperature", 3, 2),
    "graph-flow": ("user: {max_tokens: 5, max_tokens: 6}\n", "max_tokens", 1, 1),
    "persona": ("background: a\nknowledge: b\nbackground: c\n", "background", 3, 1),
    "grid": ("factors:\n  user_cot: [false]\n  user_cot: [true]\n", "user_cot", 3, 2),
}


@pytest.mark.parametrize("case", DUPLICATES)
def test_duplicate_yaml_keys_are_refused(tmp_path: Path, case: str) -> None:
    body, key, line, first = DUPLICATES[case]
    message = _config_error(LOADERS[case.split("-")[0]], _write(tmp_path / "d.yaml", body))
    assert f"duplicate key '{key}'" in message
    assert f"line {line}" in message and f"first on line {first}" in message


# --------------------------------------------------------------------------------------------
# 10. One validation path for every question format
# --------------------------------------------------------------------------------------------

REDUX_HEADER = "question,choices,answer,error_type,source,correct_answer,potential_reason\n"


def _csv_cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def write_questions(folder: Path, fmt: str, stem: str, options: list[str]) -> Path:
    """One question in ``fmt`` ("jsonl", "mmlu" or "redux") with these four options."""
    if fmt == "jsonl":
        row = {"id": "q1", "question": stem, "choices": options, "answer": "A"}
        return _write(folder / "q.jsonl", json.dumps(row) + "\n")
    if fmt == "mmlu":
        return _write(folder / "x_test.csv",
                      ",".join(_csv_cell(cell) for cell in [stem, *options, "A"]) + "\n")
    choices = _csv_cell(repr(options))
    return _write(folder / "mmlu_x.csv", REDUX_HEADER + f"{_csv_cell(stem)},{choices},0,ok,,,\n")


FORMATS = {"jsonl": load_jsonl, "mmlu": load_mmlu_csv, "redux": load_redux_csv}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("stem", "options", "fragment"), [
    ("Q?", ["a", "", "c", "d"], "option B is empty"),
    ("Q?", ["a", "b", "   ", "d"], "option C is empty"),
    ("Q?", ["a", "b", "c", "x" * (MAX_TEXT_CHARS + 1)], f"at most {MAX_TEXT_CHARS}"),
    ("x" * (MAX_TEXT_CHARS + 1), ["a", "b", "c", "d"], f"at most {MAX_TEXT_CHARS}"),
])
def test_question_formats_refuse_the_same_rows(
    tmp_path: Path, fmt: str, stem: str, options: list[str], fragment: str
) -> None:
    path = write_questions(tmp_path, fmt, stem, options)
    for load in (FORMATS[fmt], load_questions):
        with pytest.raises(ConfigError, match=fragment) as info:
            load(path)
        assert str(path) in str(info.value) and len(str(info.value)) < 500


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("size", [200 * 1024, MAX_TEXT_CHARS])
def test_question_formats_accept_the_same_long_texts(tmp_path: Path, fmt: str, size: int) -> None:
    """The CSV module's own 128 KiB field limit no longer applies to CSV files only."""
    path = write_questions(tmp_path, fmt, "x" * size, ["a", "b", "c", "y" * size])
    (question,) = load_questions(path)
    assert len(question.stem) == len(question.choices[3]) == size


@pytest.mark.parametrize("extra", [{"explanation": "x"}, {"Question": "?"}, {"subjet": "math"}])
def test_jsonl_unknown_fields_are_refused(tmp_path: Path, extra: dict[str, str]) -> None:
    row = {"id": "q", "question": "?", "choices": ["a", "b"], "answer": "A", **extra}
    path = _write(tmp_path / "q.jsonl", json.dumps(row) + "\n")
    with pytest.raises(ConfigError, match=f"line 1: unknown field.*{next(iter(extra))}"):
        load_jsonl(path)


@pytest.mark.parametrize("column", ["explanation", "subjet", ""])
def test_redux_unknown_columns_are_refused(tmp_path: Path, column: str) -> None:
    header = REDUX_HEADER.strip() + f",{column}\n"
    path = _write(tmp_path / "mmlu_x.csv", header + "\"Q?\",\"['a', 'b']\",0,ok,,,,\n")
    with pytest.raises(ConfigError, match=f"line 1: unknown column.*'{column}'"):
        load_redux_csv(path)


@pytest.mark.parametrize("fields", [
    {"choices": ("a", "")}, {"choices": ("a", " \n")}, {"stem": ""}, {"id": " "},
    {"stem": "x" * (MAX_TEXT_CHARS + 1)}, {"id": "x" * 1001},
])
def test_question_model_is_the_one_check(fields: dict[str, object]) -> None:
    """The Python API goes through the same rules as the files."""
    base: dict[str, object] = {"id": "q", "stem": "?", "choices": ("a", "b"), "answer": "A"}
    with pytest.raises(ValidationError):
        Question(**{**base, **fields})


def test_deeply_nested_jsonl_is_a_clean_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "q.jsonl", "[" * 100_000 + "\n")
    with pytest.raises(ConfigError, match="line 1"):
        load_jsonl(path)


# --------------------------------------------------------------------------------------------
# 10. Invisible characters around an answer
# --------------------------------------------------------------------------------------------

CHOICES = ["44,500", "48,900", "95,000", "99,000"]
INVISIBLE = ["\x00", "\u200b", "\ufeff", "\u2060", "\u200d", "\u00ad", "\x7f", "\u202e",
             "\x1b", "\ufe0f", "\U000e0001", "\ud800"]


@pytest.mark.parametrize("char", INVISIBLE, ids=lambda c: f"U+{ord(c):04X}")
@pytest.mark.parametrize("template", [
    "Answer: B{c}", "Answer:{c} B", "Answer: {c}B{c}{c}.", "I'll go with B{c}",
    "Thanks!\nAnswer: B{c} [END]",
])
def test_invisible_characters_do_not_hide_an_answer(char: str, template: str) -> None:
    assert extract_choice(template.format(c=char), CHOICES) == "B"


@pytest.mark.parametrize("char", INVISIBLE[:6], ids=lambda c: f"U+{ord(c):04X}")
def test_invisible_characters_do_not_hide_an_option_text(char: str) -> None:
    assert extract_choice(f"99,000{char}", CHOICES) == "D"
    assert extract_choice("Answer: B", ["a", f"b{char}", "c"]) == "B"


def test_every_control_and_format_character_is_ignored() -> None:
    """Every character Unicode calls a control (other than whitespace) or format character."""
    hidden = [chr(c) for c in range(sys.maxunicode + 1)
              if unicodedata.category(chr(c)) in ("Cc", "Cf") and not chr(c).isspace()]
    missed = [f"U+{ord(c):04X}" for c in hidden if extract_choice(f"Answer: B{c}", CHOICES) != "B"]
    assert missed == []


def test_terminal_colour_codes_are_ignored() -> None:
    assert extract_choice("Answer: \x1b[1;32mC\x1b[0m", CHOICES) == "C"


# --------------------------------------------------------------------------------------------
# 10. Model strings: fake delays and missing provider packages
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "text", "delay_s"), [
    ("fake:say:me@example.com", "me@example.com", 0.0),
    ("fake:say:a@b@0.25", "a@b", 0.25),
    ("fake:say:mail me @ home", "mail me @ home", 0.0),
    ("fake:say:x@1e-3", "x", 0.001),
    ("fake:say:@home", "@home", 0.0),
    ("fake:echo@2", "", 2.0),
])
def test_only_a_trailing_number_is_a_delay(name: str, text: str, delay_s: float) -> None:
    model = get_chat_model(name)
    assert isinstance(model, FakeChatModel)
    assert (model.text, model.delay_s) == (text, delay_s)


@pytest.mark.parametrize("name", ["fake:echo@-1", "fake:echo@nan", "fake:echo@inf",
                                  "fake:say:x@-0.5", "fake:user@1e999"])
def test_delays_that_can_only_fail_are_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="delay"):
        get_chat_model(name)


@pytest.mark.parametrize(("spec", "module", "package"), [
    ("openai:gpt-4o", "langchain_openai", "langchain-openai"),
    ("anthropic:claude-3-5-haiku-latest", "langchain_anthropic", "langchain-anthropic"),
    ("ollama:llama3", "langchain_ollama", "langchain-ollama"),
    ("google_genai:gemini-2.0-flash", "langchain_google_genai", "langchain-google-genai"),
])
def test_missing_provider_package_is_named(spec: str, module: str, package: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # as if not installed, installed or not: its submodules too, which an import of
    # ``module.sub`` finds in ``sys.modules`` first once another test has imported them
    for name in [module, *(m for m in sys.modules if m.startswith(f"{module}."))]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setattr(registry, "_LANGCHAIN_MODELS", {})  # no model made before counts
    from langchain.chat_models import base  # caches each provider's class once imported

    getattr(base, "_get_chat_model_creator", None) and base._get_chat_model_creator.cache_clear()
    with pytest.raises(MissingDependencyError) as info:
        get_chat_model(spec)
    message = str(info.value)
    assert f"pip install {package}" in message
    assert "chatbench[hf]" not in message


@pytest.mark.parametrize("name", ["x" * 5000, "dir/" + "x" * 5000 + ".yaml", "bad\x00name"])
@pytest.mark.parametrize("loader", ["graph", "persona", "grid"])
def test_a_preset_name_the_os_refuses_is_a_short_config_error(name, loader):
    from chatbench.config import load_graph_spec, load_grid
    from chatbench.personas import load_persona

    load = {"graph": load_graph_spec, "persona": load_persona, "grid": load_grid}[loader]
    with pytest.raises(ConfigError) as caught:
        load(name)
    assert len(str(caught.value)) < 4096 + 200  # a path is named in full up to PATH_MAX
