"""GraphSpec and persona presets: shipped ones load, bad ones name the field."""

from __future__ import annotations

import pytest

from chatbench import ConfigError, GraphSpec, load_graph_spec, load_persona
from chatbench.config import list_graph_specs
from chatbench.personas import list_personas, render_persona

REQUIRED_PERSONAS = {"novice", "expert", "impatient", "skeptical", "over_trusting"}


def test_shipped_personas_load_and_render():
    assert REQUIRED_PERSONAS <= set(list_personas())
    for name in list_personas():
        persona = load_persona(name)
        assert persona.name == name
        assert persona.background in render_persona(persona)


def test_shipped_graphs_load():
    names = list_graph_specs()
    assert {"two_step", "two_step_cot", "iqa_eval", "causal_lm", "quick"} <= set(names)
    assert load_graph_spec("two_step_cot").user_cot is True
    assert load_graph_spec("quick").max_turns == 3


def test_persona_unknown_field_is_named(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("background: a student\nmood: grumpy\n")
    with pytest.raises(ConfigError) as err:
        load_persona(path)
    assert "mine.yaml" in str(err.value) and "'mood'" in str(err.value)


def test_persona_missing_field_is_named(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("knowledge: none\n")
    with pytest.raises(ConfigError, match="field 'background'"):
        load_persona(path)


def test_graph_bad_value_is_named(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text("simulator: two_step\nmax_turns: 0\nuser:\n  temperature: hot\n")
    with pytest.raises(ConfigError) as err:
        load_graph_spec(path)
    message = str(err.value)
    assert "field 'max_turns'" in message and "field 'user.temperature'" in message


def test_graph_invalid_yaml_and_non_mapping(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("simulator: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_graph_spec(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_graph_spec(listy)


def test_unknown_preset_lists_shipped_ones():
    with pytest.raises(ConfigError, match="shipped: .*novice"):
        load_persona("nobody")
    with pytest.raises(ConfigError, match="file not found"):
        load_graph_spec("missing/dir/x.yaml")


def test_cot_needs_a_prompted_simulator():
    with pytest.raises(ValueError, match="user_cot needs a prompted simulator"):
        GraphSpec(simulator="causal_lm", user_cot=True)


def test_spec_name_defaults_to_file_stem(tmp_path):
    path = tmp_path / "my_variant.yaml"
    path.write_text("persona: novice\nuser_cot: true\n")
    spec = load_graph_spec(path)
    assert spec.name == "my_variant" and spec.persona == "novice"
