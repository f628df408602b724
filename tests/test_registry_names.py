"""Names: bare model names LangChain can place, and "did you mean" for every unknown name
(models, providers, graph and persona presets, grid factors, YAML keys)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from chatbench import ConfigError, GraphSpec, load_graph_spec, load_persona
from chatbench._yaml import did_you_mean
from chatbench.config import AblationGrid, load_grid
from chatbench.errors import MissingDependencyError
from chatbench.models import registry
from chatbench.models.reference import ModelRef
from chatbench.models.registry import get_chat_model, inferred_provider
from chatbench.runner.recipe import Recipe

# --------------------------------------------------------------------------------------------
# Bare model names
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "provider"), [
    ("gpt-4o", "openai"), ("GPT-4o-mini", "openai"), ("o3-mini", "openai"),
    ("claude-3-5-haiku-latest", "anthropic"), ("mistral-small", "mistralai"),
    ("deepseek-chat", "deepseek"), ("grok-2", "xai"),
])
def test_bare_names_langchain_infers(name: str, provider: str) -> None:
    assert inferred_provider(name) == provider
    assert ModelRef.parse(name).resolvable


@pytest.mark.parametrize("name", ["smolm2", "smollm2", "llama3", "", "openai:gpt-4o",
                                  "claude-3:x"])
def test_names_not_inferred(name: str) -> None:
    assert inferred_provider(name) is None


def test_a_bare_gpt_name_goes_to_init_chat_model(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("langchain_openai")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")  # builds the client; nothing is sent
    model = get_chat_model(" gpt-4o ")
    assert type(model).__name__ == "ChatOpenAI" and model.model_name == "gpt-4o"


def test_a_bare_name_is_planned_as_a_string(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("langchain_openai")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    recipe = Recipe.plan(GraphSpec(), "fake:user", "gpt-4o")
    assert recipe.models["assistant"] == "gpt-4o" and recipe.names["assistant"] == "gpt-4o"
    assert recipe.build().recipe.models["assistant"] == "gpt-4o"  # workers rebuild it


def test_an_api_model_is_made_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("langchain_openai")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setattr(registry, "_LANGCHAIN_MODELS", {})
    made = []
    real = registry._init_langchain
    monkeypatch.setattr(registry, "_init_langchain",
                        lambda spec, provider: made.append(spec) or real(spec, provider))
    recipe = Recipe.plan(GraphSpec(), "fake:user", "openai:gpt-4o-mini")  # checks it is made
    variant = recipe.build()
    assert variant.models.assistant is get_chat_model("openai:gpt-4o-mini")
    assert made == ["openai:gpt-4o-mini"]


def test_a_bare_name_without_its_package_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "langchain_anthropic", None)  # as if not installed
    with pytest.raises(MissingDependencyError, match="pip install langchain-anthropic"):
        get_chat_model("claude-3-5-haiku-latest")


def test_a_class_name_is_an_objects_name_not_a_model_string() -> None:
    """``model_name`` of an object without a model name is its class: never a string to
    rebuild, though LangChain would place ``Claude...`` with Anthropic."""
    assert not ModelRef.parse("ClaudeProxy").resolvable
    assert not ModelRef.parse("ChatOpenAI:gpt-4o").resolvable
    assert ModelRef.parse("smollm2").resolvable and ModelRef.parse("fake:echo").resolvable


# --------------------------------------------------------------------------------------------
# Unknown model names: one line, with the closest known names
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "hint"), [
    ("smolm2", "did you mean 'smollm2'?"),
    ("smollm", "did you mean 'smollm2'"),
    ("opnai:gpt-4o", "did you mean 'openai:gpt-4o'"),
    ("antropic:claude-3-5-haiku-latest", "did you mean 'anthropic:claude-3-5-haiku-latest'"),
    ("gguff", "did you mean 'gguf:<model>'"),
    ("openai", "did you mean 'openai:<model>'"),
])
def test_unknown_models_say_did_you_mean(name: str, hint: str) -> None:
    with pytest.raises(ConfigError) as info:
        get_chat_model(name)
    message = str(info.value)
    assert message.startswith(f"unknown model {name!r}; {hint}")
    assert "\n" not in message and "provider among: " in message


def test_an_unknown_model_with_nothing_close_lists_the_providers() -> None:
    with pytest.raises(ConfigError) as info:
        get_chat_model("totally-unknown")
    message = str(info.value)
    assert "did you mean" not in message and "openai" in message and "smollm2" in message


def test_planning_refuses_a_misspelt_model_with_a_suggestion() -> None:
    with pytest.raises(ConfigError, match="did you mean 'smollm2'"):
        Recipe.plan(GraphSpec(), "smolm2", "fake:echo")


# --------------------------------------------------------------------------------------------
# Presets, personas, grid factors, YAML keys
# --------------------------------------------------------------------------------------------


def test_did_you_mean() -> None:
    assert did_you_mean("smolm2", ["smollm2", "hf"]) == "did you mean 'smollm2'?"
    assert did_you_mean("Novice", ["novice"]) == "did you mean 'novice'?"
    assert did_you_mean("zzz", ["smollm2"]) == ""
    assert did_you_mean("x" * 5000, ["x"]) == ""
    assert (did_you_mean("two_stpe", ["two_step_cot", "two_step", "quick"])
            == "did you mean 'two_step' or 'two_step_cot'?")  # closest first


def test_unknown_graph_persona_and_grid_say_did_you_mean() -> None:
    with pytest.raises(ConfigError, match=r"unknown graph 'two_stpe'; did you mean 'two_step'"
                                          r".*shipped: .*two_step"):
        load_graph_spec("two_stpe")
    with pytest.raises(ConfigError, match=r"unknown persona 'novce'; did you mean 'novice'\? "
                                          r"shipped: "):
        load_persona("novce")
    with pytest.raises(ConfigError, match=r"unknown persona 'zzzz'; shipped: "):
        load_persona("zzzz")


def test_unknown_grid_says_did_you_mean() -> None:
    from chatbench._yaml import preset_names

    name = preset_names("graphs/grids")[0]
    with pytest.raises(ConfigError, match=f"did you mean '{name}'"):
        load_grid(name + "x")


def test_unknown_factor_says_did_you_mean() -> None:
    with pytest.raises(ValueError, match="unknown factor 'user_cto'; did you mean 'user_cot'"):
        AblationGrid(name="g", factors={"user_cto": [True]})


def test_unknown_yaml_keys_say_did_you_mean(tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text("max_turn: 3\nuser:\n  temprature: 1\nfoo: 1\n")
    with pytest.raises(ConfigError) as info:
        load_graph_spec(path)
    lines = str(info.value).splitlines()
    assert any("field 'max_turn'" in line and "did you mean 'max_turns'?" in line
               for line in lines)
    assert any("field 'user.temprature'" in line and "did you mean 'temperature'?" in line
               for line in lines)
    assert any(line.endswith("field 'foo': Extra inputs are not permitted") for line in lines)


def test_unknown_persona_key_says_did_you_mean(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("background: a student\nwritingstyle: terse\n")
    with pytest.raises(ConfigError, match="field 'writingstyle'.*did you mean 'writing_style'"):
        load_persona(path)
