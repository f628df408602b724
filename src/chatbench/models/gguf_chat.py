"""A LangChain chat model over a GGUF model on llama.cpp (``chatbench.models.gguf``)."""

from __future__ import annotations

from chatbench.datatypes import Completion
from chatbench.models.gguf import GGUFModel
from chatbench.models.local_chat import LocalChat


class GGUFChatModel(LocalChat):
    """A LangChain chat model over a ``GGUFModel``: llama.cpp applies the model's chat
    template and says when the prompt does not fit (``gguf.PromptTooLong``); the rest is
    ``LocalChat``'s."""

    model_name: str = "gguf"

    def _reply(self, turns: list[dict[str, str]], *, max_tokens: int, temperature: float,
               stop: list[str], seed: int | None, must_fit: bool) -> Completion:
        completion: Completion = self.lm.chat(turns, max_tokens=max_tokens,
                                              temperature=temperature, stop=stop, seed=seed)
        return completion


def gguf_chat_model(lm: GGUFModel, name: str | None = None) -> GGUFChatModel:
    """A chat model over ``lm``, called ``name`` (default: the model's)."""
    return GGUFChatModel(lm=lm, model_name=name or lm.name)
