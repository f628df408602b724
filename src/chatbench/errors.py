"""Exception hierarchy: every error chatbench raises on purpose derives from ``ChatBenchError``."""

from __future__ import annotations


class ChatBenchError(Exception):
    """Base class of chatbench's own errors."""


class ConfigError(ChatBenchError):
    """A caller mistake: a bad file, field, option or model name. The CLI exits with code 2."""


class ModelOutputError(ChatBenchError):
    """A model's output could not be used (empty simulator turn, unparseable judgement)."""


class MissingDependencyError(ChatBenchError, ImportError):
    """An optional dependency is not installed."""

    def __init__(self, what: str, extra: str = "hf", *, package: str | None = None) -> None:
        if package is not None:  # a package no chatbench extra brings (a LangChain provider)
            super().__init__(f"{what} needs the '{package}' package: pip install {package}")
        else:
            super().__init__(f"{what} needs the '{extra}' extra: pip install 'chatbench[{extra}]'")
