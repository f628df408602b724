"""Personas: who the simulated user is, as validated YAML rendered into its instructions."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from chatbench._yaml import load_yaml_model, preset_names


class Persona(BaseModel):
    """A simulated user's character. Shipped presets live in ``personas/*.yaml``.

    Example:
        >>> p = Persona(name="hurried", background="A nurse on a break.")
        >>> "nurse" in render_persona(p)
        True
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    """Short identifier; defaults to the YAML file's stem."""
    description: str = ""
    """One line for listings; not shown to the simulator."""
    background: str
    """Who this person is, in the second person or as a description."""
    knowledge: str = ""
    """What they know about the subject matter."""
    behaviour: list[str] = Field(default_factory=list)
    """How they act in the conversation, one habit per item."""
    writing_style: str = ""
    """How they write: length, tone, spelling, punctuation."""
    attitude_to_ai: str = ""
    """How far they trust the assistant and check its answers."""


def load_persona(name_or_path: str | Path) -> Persona:
    """Load a shipped persona by name (``novice``) or a YAML file by path.

    Raises:
        ConfigError: Unknown name, missing file, or an invalid or unknown field.
    """
    return load_yaml_model(Persona, "personas", name_or_path)


def list_personas() -> list[str]:
    """Names of the shipped personas."""
    return preset_names("personas")


def render_persona(persona: Persona) -> str:
    """The persona as instructions for the simulator (never shown to the assistant)."""
    parts = [f"Who you are: {persona.background.strip()}"]
    if persona.knowledge:
        parts.append(f"What you know: {persona.knowledge.strip()}")
    if persona.attitude_to_ai:
        parts.append(f"How you see the AI: {persona.attitude_to_ai.strip()}")
    if persona.behaviour:
        parts.append("How you act:\n" + "\n".join(f"- {b.strip()}" for b in persona.behaviour))
    if persona.writing_style:
        parts.append(f"How you write: {persona.writing_style.strip()}")
    return "\n".join(parts)
