"""The continuous-batching engine on tiny random GPT-2 and Llama models (real GPT-2 tokenizer).

Greedy ``generate`` at batch size 1 is the reference every engine output is held to: alone,
batched, joining a running batch, or resuming from the prefix cache.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, wait

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from chatbench.models.engine import ContinuousBatcher, Row  # noqa: E402
from chatbench.models.hf import LocalCausalLM  # noqa: E402
from chatbench.models.prefix_cache import PrefixCache  # noqa: E402
from tests.conftest import GPT2_TOKENIZER  # noqa: E402

pytestmark = pytest.mark.hf

PROMPTS = (
    "Hi",
    "The capital of France is",
    "Once upon a time, in a land far far away, there lived a",
    "Alice: How are you today?\nBob: Fine, thanks. And you?\nAlice:",
)
N = 10
"""New tokens per reference generation."""


@pytest.fixture(scope="module")
def tok():
    return transformers.AutoTokenizer.from_pretrained(GPT2_TOKENIZER)


def _small(config_cls, tok, **kwargs):
    """A tiny grouped-query-attention config whose special tokens are the tokenizer's."""
    return config_cls(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        vocab_size=len(tok),
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.eos_token_id,
        **kwargs,
    )


@pytest.fixture(scope="module")
def models(tok):
    torch.manual_seed(0)
    # A wider initialisation than GPT-2's 0.02, whose random model repeats one token forever.
    gpt2 = transformers.GPT2Config(
        n_layer=2,
        n_head=2,
        n_embd=32,
        n_positions=256,
        vocab_size=len(tok),
        initializer_range=0.5,
    )
    return {
        "gpt2": transformers.GPT2LMHeadModel(gpt2).eval(),  # absolute positions
        "llama": transformers.LlamaForCausalLM(_small(transformers.LlamaConfig, tok)).eval(),
    }


@pytest.fixture(params=["gpt2", "llama"])
def model(request, models):
    return models[request.param]


@pytest.fixture(scope="module")
def reference(tok):
    """Greedy batch-size-1 ``generate``: the new ids (a trailing eos dropped), memoised."""
    memo: dict[tuple[int, str, int], list[int]] = {}

    def new_ids(model, prompt: str, max_new_tokens: int = N) -> list[int]:
        key = (id(model), prompt, max_new_tokens)
        if key not in memo:
            batch = tok(prompt, return_tensors="pt", add_special_tokens=False)
            with torch.inference_mode():
                out = model.generate(
                    **batch,
                    do_sample=False,
                    max_new_tokens=max_new_tokens,
                    pad_token_id=tok.eos_token_id,
                )
            ids = out[0, batch["input_ids"].shape[1] :].tolist()
            if ids and ids[-1] == tok.eos_token_id:
                ids.pop()
            memo[key] = ids
        return memo[key]

    return new_ids


def _text(tok, ids: list[int]) -> str:
    return tok.decode(ids, skip_special_tokens=True)


def _expected(tok, reference, model, prompt: str, n: int = N) -> str:
    return _text(tok, reference(model, prompt, n))


def _in_thread(fn, *args) -> Future:
    """Run ``fn(*args)`` in a daemon thread: a caller the engine never answers cannot keep
    the test process alive (a ``ThreadPoolExecutor`` thread would, at exit)."""
    future: Future = Future()

    def run() -> None:
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on it
            future.set_exception(exc)

    threading.Thread(target=run, daemon=True).start()
    return future


def _together(engine: ContinuousBatcher, lock: threading.Lock, calls: list[list[Row]]):
    """Submit ``calls`` from threads so the first runs alone for a step and the rest join it.

    ``lock`` (the engine's model lock) holds the worker in the first call's prefill until
    every other call is queued, so the batch is shared however the threads are scheduled.
    """
    with lock:
        futures = [_in_thread(engine.submit, calls[0])]
        # A fresh engine starts its worker when the first call is queued.
        _wait_until(lambda: engine._worker is not None and not engine._pending)
        futures += [_in_thread(engine.submit, rows) for rows in calls[1:]]
        queued = sum(len(rows) for rows in calls[1:])
        _wait_until(lambda: len(engine._pending) == queued)
    return futures


def _wrap_forward(monkeypatch, engine: ContinuousBatcher, change) -> None:
    """Make the engine's forward pass ``change(forward, ids, positions, keep)``: ``ids`` is
    the packed ``[1, tokens]`` pass, ``keep`` the packed positions whose logits come back."""
    forward = engine._forward
    monkeypatch.setattr(engine, "_forward", lambda *args: change(forward, *args))


def _wait_until(condition, timeout: float = 60.0) -> None:
    """Wait for ``condition``; the timeout only catches a hang (generous: a loaded machine
    may be slow to get there, never wrong)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the engine"
        time.sleep(0.001)


# --- greedy output equals generate -------------------------------------------------------------


def test_greedy_rows_alone_match_generate(model, tok, reference):
    engine = ContinuousBatcher(model, tok, prefix_cache_bytes=0)
    for prompt in PROMPTS:
        (out,) = engine.submit([Row(prompt, N, 0.0)])
        ids = reference(model, prompt)
        assert out.text == _text(tok, ids)
        assert out.output_tokens == len(ids)
        assert out.input_tokens == len(tok(prompt)["input_ids"])


def test_rows_of_one_submit_are_batched_and_match_generate(model, tok, reference):
    engine = ContinuousBatcher(model, tok, prefix_cache_bytes=0)
    limits = [N, 3, 7, 1]
    out = engine.submit([Row(p, n, 0.0) for p, n in zip(PROMPTS, limits, strict=True)])
    expected = [
        _expected(tok, reference, model, p, n) for p, n in zip(PROMPTS, limits, strict=True)
    ]
    assert [c.text for c in out] == expected
    assert max(engine.stats.batch_sizes) == 3  # the max_tokens=1 row ends in its prefill
    assert engine.stats.requests == len(PROMPTS)


def test_calls_from_threads_share_the_batch_and_match_one_at_a_time(model, tok, reference):
    lock = threading.Lock()
    engine = ContinuousBatcher(model, tok, prefix_cache_bytes=0, lock=lock)
    calls = [
        [Row(PROMPTS[0], 4, 0.0)],
        [Row(PROMPTS[2], N, 0.0)],
        [Row(PROMPTS[1], 6, 0.0), Row(PROMPTS[3], 8, 0.0)],
    ]
    results = [f.result(timeout=30) for f in _together(engine, lock, calls)]
    alone = ContinuousBatcher(model, tok, prefix_cache_bytes=0)
    for rows, completions in zip(calls, results, strict=True):
        assert [c.text for c in completions] == [c.text for c in alone.submit(rows)]
        assert [c.text for c in completions] == [
            _expected(tok, reference, model, r.prompt, r.max_tokens) for r in rows
        ]
    # The first call decodes alone once; the others then join its batch.
    assert engine.stats.batch_sizes[0] == 1 and max(engine.stats.batch_sizes) == 4


def test_free_running_threads_match_generate(models, tok, reference):
    model = models["llama"]
    engine = ContinuousBatcher(model, tok, max_batch=3)  # some calls wait for a free row
    jobs = [(p, n) for n in (2, 5, N) for p in PROMPTS]
    futures = [_in_thread(engine.submit, [Row(p, n, 0.0)]) for p, n in jobs]
    texts = [f.result(timeout=30)[0].text for f in futures]
    assert texts == [_expected(tok, reference, model, p, n) for p, n in jobs]
    assert max(engine.stats.batch_sizes) <= 3


# --- prefix cache ------------------------------------------------------------------------------


def test_next_turn_reuses_the_previous_call_and_matches_no_cache(model, tok, reference):
    engine = ContinuousBatcher(model, tok)
    uncached = ContinuousBatcher(model, tok, prefix_cache_bytes=0)
    first = engine.submit([Row(PROMPTS[2], N, 0.0)])[0]
    follow_up = PROMPTS[2] + first.text + "\nAnd then"
    second = engine.submit([Row(follow_up, N, 0.0)])[0]
    assert engine.stats.reused_tokens > len(tok(PROMPTS[2])["input_ids"])
    assert second.text == uncached.submit([Row(follow_up, N, 0.0)])[0].text
    assert second.text == _expected(tok, reference, model, follow_up)
    assert uncached.stats.reused_tokens == 0 and len(uncached.prefix_cache) == 0


def test_rows_finished_in_a_padded_batch_are_cached_without_their_padding(model, tok, reference):
    # Each row leaves the batch at another step and at another padding width; its cached
    # keys and values must be its own tokens' (a wrong slice would change the follow-ups).
    engine = ContinuousBatcher(model, tok)
    limits = [N, 4, 7, 1]
    firsts = engine.submit([Row(p, n, 0.0) for p, n in zip(PROMPTS, limits, strict=True)])
    follow_ups = [p + c.text + " yes" for p, c in zip(PROMPTS, firsts, strict=True)]
    before = engine.stats.reused_tokens
    out = engine.submit([Row(p, N, 0.0) for p in follow_ups])
    assert engine.stats.reused_tokens - before >= sum(len(tok(p)["input_ids"]) for p in PROMPTS)
    assert [c.text for c in out] == [_expected(tok, reference, model, p) for p in follow_ups]


def test_same_prompt_again_reuses_all_but_its_last_token(models, tok, reference):
    engine = ContinuousBatcher(models["gpt2"], tok)
    prompt = PROMPTS[3]
    engine.submit([Row(prompt, 1, 0.0)])
    again = engine.submit([Row(prompt, N, 0.0)])[0]
    assert engine.stats.reused_tokens == len(tok(prompt)["input_ids"]) - 1
    assert again.text == _expected(tok, reference, models["gpt2"], prompt)


def _kv(length: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """One layer of keys and values for ``length`` tokens: 16 bytes a token."""
    return [(torch.zeros(1, 1, length, 2), torch.zeros(1, 1, length, 2))]


def _ids(*tokens: int) -> torch.Tensor:
    return torch.tensor(tokens)


def test_prefix_cache_picks_the_longest_match():
    cache = PrefixCache(1 << 20)
    short, branch = _kv(3), _kv(5)
    cache.put(_ids(1, 2, 3), short)
    cache.put(_ids(1, 2, 9, 9, 9), branch)
    assert len(cache) == 2
    assert cache.longest(_ids(1, 2, 9, 9, 5)) == (4, branch)
    assert cache.longest(_ids(1, 2, 3, 4)) == (3, short)
    length, kv = cache.longest(_ids(1, 7, 7))
    assert length == 1 and (kv is short or kv is branch)
    assert cache.longest(_ids(8, 2, 3)) == (0, None)


def test_prefix_cache_never_matches_the_whole_query():
    cache = PrefixCache(1 << 20)
    kv = _kv(4)
    cache.put(_ids(1, 2, 3, 4), kv)
    assert cache.longest(_ids(1, 2, 3, 4)) == (3, kv)
    assert cache.longest(_ids(1, 2)) == (1, kv)
    assert cache.longest(_ids(1)) == (0, None)


def test_prefix_cache_drops_entries_the_new_one_extends():
    cache = PrefixCache(1 << 20)
    cache.put(_ids(1, 2), _kv(2))
    cache.put(_ids(1, 2, 3), _kv(3))
    cache.put(_ids(5, 6), _kv(2))
    cache.put(_ids(1, 2, 3, 4), _kv(4))
    assert len(cache) == 2
    assert cache.bytes == 16 * (2 + 4)
    cache.clear()
    assert len(cache) == 0 and cache.bytes == 0


def test_prefix_cache_evicts_least_recently_used_within_its_budget():
    cache = PrefixCache(16 * 8)  # room for 8 tokens
    first, second = _kv(3), _kv(3)
    cache.put(_ids(1, 1, 1), first)
    cache.put(_ids(2, 2, 2), second)
    assert cache.longest(_ids(1, 1, 1, 1)) == (3, first)  # now the most recently used
    cache.put(_ids(3, 3, 3), _kv(3))
    assert len(cache) == 2 and cache.bytes == 16 * 6
    assert cache.longest(_ids(2, 2, 2, 2)) == (0, None)
    assert cache.longest(_ids(1, 1, 1, 1)) == (3, first)


def test_prefix_cache_does_not_keep_an_entry_over_its_budget():
    cache = PrefixCache(16 * 8)
    cache.put(_ids(1, 1), _kv(2))
    cache.put(_ids(*range(9)), _kv(9))
    assert len(cache) == 1 and cache.bytes == 16 * 2
    assert cache.longest(_ids(*range(10))) == (0, None)


# --- per-row limits, stop strings, eos ---------------------------------------------------------


def test_each_row_keeps_its_own_token_limit(model, tok, reference):
    engine = ContinuousBatcher(model, tok, prefix_cache_bytes=0)
    prompt = PROMPTS[1]
    ids = reference(model, prompt)
    out = engine.submit([Row(prompt, n, 0.0) for n in (1, 3, N)])
    assert [c.output_tokens for c in out] == [1, 3, N]
    assert [c.text for c in out] == [_text(tok, ids[:n]) for n in (1, 3, N)]


def test_stop_string_cuts_the_text_before_it(model, tok, reference):
    engine = ContinuousBatcher(model, tok, prefix_cache_bytes=0)
    prompt = PROMPTS[2]
    full = _expected(tok, reference, model, prompt)
    stop = _text(tok, reference(model, prompt)[3:5])  # two tokens from the middle
    out = engine.submit([Row(prompt, N, 0.0), Row(PROMPTS[0], N, 0.0)], stop=[stop])
    assert stop in full
    assert out[0].text == full[: full.find(stop)]
    assert out[0].output_tokens < N  # it stopped early
    other = _expected(tok, reference, model, PROMPTS[0])
    assert out[1].text == (other[: other.find(stop)] if stop in other else other)


def test_row_ending_with_eos_leaves_while_others_continue(model, tok, reference, monkeypatch):
    engine = ContinuousBatcher(model, tok, prefix_cache_bytes=0)
    early, late = PROMPTS[2], PROMPTS[1]
    early_ids, late_ids = reference(model, early), reference(model, late)
    trigger = early_ids[2]
    first = early_ids.index(trigger)
    # A random model never picks eos: force it right after ``trigger`` is fed back.
    assert trigger not in late_ids[:-1] and trigger not in tok(early + late)["input_ids"]
    assert first + 2 < N  # the late row still has steps of its own

    def eos_after_trigger(forward, ids, positions, keep):
        logits = forward(ids, positions, keep).clone()
        logits[ids[0, keep] == trigger, tok.eos_token_id] = logits.max() + 1
        return logits

    _wrap_forward(monkeypatch, engine, eos_after_trigger)
    out = engine.submit([Row(early, N, 0.0), Row(late, N, 0.0)])
    assert out[0].text == _text(tok, early_ids[: first + 1])
    assert out[0].output_tokens == first + 1  # the eos is not counted
    assert out[1].text == _text(tok, late_ids) and out[1].output_tokens == N
    sizes = list(engine.stats.batch_sizes)
    assert sizes == [2] * (first + 1) + [1] * (len(sizes) - first - 1) and sizes[-1] == 1


# --- sampling ----------------------------------------------------------------------------------


def test_seeded_sample_is_the_same_alone_and_batched(model, tok):
    engine = ContinuousBatcher(model, tok)
    row = Row(PROMPTS[1], N, 1.0, seed=7)
    alone = engine.submit([row])[0]
    batched = engine.submit(
        [Row(PROMPTS[2], N, 0.8, seed=1), row, Row(PROMPTS[0], 5, 0.0), Row(PROMPTS[1], 3, 1.0, 2)]
    )
    assert batched[1].text == alone.text
    assert batched[1].output_tokens == alone.output_tokens == N


def test_different_seeds_sample_different_texts(model, tok):
    engine = ContinuousBatcher(model, tok)
    out = engine.submit([Row(PROMPTS[1], 6, 1.0, seed=s) for s in range(4)])
    assert len({c.text for c in out}) > 1


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
def test_prompts_prefilled_together_continue_their_own_cached_prefixes(
    models, tok, reference, arch
):
    # One padded prefill of rows that reuse 0, part or all-but-one of their prompt.
    model = models[arch]
    engine = ContinuousBatcher(model, tok)
    engine.submit([Row(PROMPTS[2], 3, 0.0)])
    longer = PROMPTS[2] + " small dragon who"
    prompts = [longer, PROMPTS[3], PROMPTS[2], PROMPTS[1]]
    before = engine.stats.reused_tokens
    out = engine.submit([Row(p, N, 0.0) for p in prompts])
    assert engine.stats.reused_tokens - before >= len(tok(PROMPTS[2])["input_ids"])
    assert [c.text for c in out] == [_expected(tok, reference, model, p) for p in prompts]


def test_a_row_done_at_prefill_frees_its_slot_for_the_rows_after_it(models, tok, reference):
    model = models["llama"]
    engine = ContinuousBatcher(model, tok, prefix_cache_bytes=0)
    rows = [Row(PROMPTS[3], N, 0.0), Row(PROMPTS[0], 1, 0.0), Row(PROMPTS[2], N, 0.0)]
    out = engine.submit(rows)
    assert out[1].output_tokens <= 1
    assert engine.stats.batch_sizes[0] == 2
    assert [out[0].text, out[2].text] == [
        _expected(tok, reference, model, PROMPTS[3]),
        _expected(tok, reference, model, PROMPTS[2]),
    ]


def _contains(ids, part: list[int]) -> bool:
    """Whether the packed pass ``ids`` carries ``part`` as one run of tokens."""
    seq, n = ids[0].tolist(), len(part)
    return any(seq[i : i + n] == part for i in range(len(seq) - n + 1))


def test_a_failed_shared_pass_is_retried_row_by_row_and_every_row_ends_right(
    models, tok, reference, monkeypatch
):
    model = models["llama"]
    lock = threading.Lock()
    engine = ContinuousBatcher(model, tok, lock=lock)
    failed: list[int] = []

    def fail_first_shared_decoding_pass(forward, ids, positions, keep):
        if ids.shape[1] == len(keep) == 3 and not failed:  # three rows decoding
            failed.append(len(keep))
            raise RuntimeError("device lost")
        return forward(ids, positions, keep)

    _wrap_forward(monkeypatch, engine, fail_first_shared_decoding_pass)
    calls = [[Row(PROMPTS[1], N, 0.0)], [Row(PROMPTS[2], N, 0.0)], [Row(PROMPTS[3], N, 0.0)]]
    futures = _together(engine, lock, calls)
    assert [f.result(timeout=30)[0].text for f in futures] == [
        _expected(tok, reference, model, p) for p in PROMPTS[1:]
    ]
    assert failed == [3]


def test_failed_pass_fails_only_the_row_that_fails_alone(models, tok, reference, monkeypatch):
    model = models["gpt2"]
    engine = ContinuousBatcher(model, tok, prefix_cache_bytes=0)
    bad = PROMPTS[3]
    bad_ids = tok(bad)["input_ids"]
    failed: list[int] = []

    def fail_bad_prompt_until_it_fails_alone(forward, ids, positions, keep):
        # Any pass carrying the bad prompt fails: a shared one, then its own, after which
        # it works again.
        if _contains(ids, bad_ids) and not failed:
            if ids.shape[1] == len(bad_ids):
                failed.append(len(bad_ids))
            raise RuntimeError("out of memory")
        return forward(ids, positions, keep)

    _wrap_forward(monkeypatch, engine, fail_bad_prompt_until_it_fails_alone)
    futures = [_in_thread(engine.submit, [Row(p, N, 0.0)]) for p in PROMPTS[:3] + (bad,)]
    for prompt, future in zip(PROMPTS[:3], futures, strict=False):
        assert future.result(timeout=30)[0].text == _expected(tok, reference, model, prompt)
    with pytest.raises(RuntimeError, match="out of memory"):
        futures[-1].result(timeout=30)
    assert failed == [len(bad_ids)]
    assert engine.submit([Row(bad, N, 0.0)])[0].text == _expected(tok, reference, model, bad)


def test_sampling_error_after_a_row_finished_in_the_same_step_answers_every_caller(
    models, tok, reference, monkeypatch
):
    # NaN logits (an fp16 overflow, say) make the sampled row's multinomial raise after the
    # greedy row before it has already finished and been answered in that same step.
    model = models["gpt2"]
    lock = threading.Lock()
    engine = ContinuousBatcher(model, tok, lock=lock)

    def nan_for_the_sampled_row(forward, ids, positions, keep):
        logits = forward(ids, positions, keep)
        if ids.shape[1] == len(keep) == 3:  # three rows decoding, in slot order
            # The two joining calls are queued from threads in either order: find the slot.
            rows = [a.request.row for a in engine._rows]
            logits = logits.clone()
            logits[next(i for i, row in enumerate(rows) if row.temperature > 0)] = float("nan")
        return logits

    _wrap_forward(monkeypatch, engine, nan_for_the_sampled_row)
    # The first row decodes one step alone and ends in the first step of all three rows.
    calls = [
        [Row(PROMPTS[1], 3, 0.0)],
        [Row(PROMPTS[2], N, 1.0, seed=1)],
        [Row(PROMPTS[3], N, 0.0)],
    ]
    finished, sampled, greedy = _together(engine, lock, calls)
    _, unanswered = wait([finished, sampled, greedy], timeout=3)
    assert not unanswered, "callers left waiting forever"
    assert finished.result()[0].text == _expected(tok, reference, model, PROMPTS[1], 3)
    assert isinstance(sampled.exception(), RuntimeError)
    if greedy.exception() is None:
        assert greedy.result()[0].text == _expected(tok, reference, model, PROMPTS[3])
    later = _in_thread(engine.submit, [Row(PROMPTS[0], N, 0.0)])
    assert later.result(timeout=3)[0].text == _expected(tok, reference, model, PROMPTS[0])


def test_prompts_longer_than_a_pass_are_prefilled_in_chunks(model, tok, reference):
    # Three prompt tokens a pass: every prompt takes several passes, beside decoding rows.
    engine = ContinuousBatcher(model, tok, prefix_cache_bytes=0, prefill_tokens=3)
    out = engine.submit([Row(p, N, 0.0) for p in PROMPTS])
    assert [c.text for c in out] == [_expected(tok, reference, model, p) for p in PROMPTS]
    prompt_tokens = sum(len(tok(p)["input_ids"]) for p in PROMPTS)
    assert engine.stats.forwards >= prompt_tokens // 3


def test_a_lone_prompt_takes_passes_that_pick_no_token_yet(model, tok, reference):
    engine = ContinuousBatcher(model, tok, prefix_cache_bytes=0, prefill_tokens=2)
    out = engine.submit([Row(PROMPTS[3], N, 0.0)])
    assert out[0].text == _expected(tok, reference, model, PROMPTS[3])


def test_a_prompt_filling_the_model_positions_is_a_value_error(models, tok):
    engine = ContinuousBatcher(models["gpt2"], tok)  # 256 positions
    with pytest.raises(ValueError, match="300 tokens leaves no room in the model's 256"):
        engine.submit([Row(" a" * 300, 3, 0.0)])


def test_generation_stops_where_the_model_positions_run_out(models, tok):
    engine = ContinuousBatcher(models["gpt2"], tok, prefix_cache_bytes=0)
    out = engine.submit([Row(" a" * 250, 20, 0.0)])[0]
    assert out.input_tokens == 250 and out.output_tokens <= 6


def test_stopped_worker_ends_and_the_next_call_starts_another(models, tok, reference):
    model = models["llama"]
    engine = ContinuousBatcher(model, tok)
    engine.submit([Row(PROMPTS[1], 2, 0.0)])
    worker = engine._worker
    engine.stop()
    assert worker is not None and not worker.is_alive() and engine._worker is None
    out = engine.submit([Row(PROMPTS[1], N, 0.0)])
    assert out[0].text == _expected(tok, reference, model, PROMPTS[1])


def test_empty_prompt_is_a_value_error(models, tok):
    engine = ContinuousBatcher(models["gpt2"], tok)
    with pytest.raises(ValueError, match="empty prompt"):
        engine.submit([Row("Hi", 3, 0.0), Row("", 3, 0.0)])
    assert engine.stats.requests == 0


def test_a_token_limit_below_one_is_a_value_error(models, tok):
    engine = ContinuousBatcher(models["gpt2"], tok)
    with pytest.raises(ValueError, match="max_tokens must be at least 1, not 0"):
        engine.submit([Row("Hi", 0, 0.0)])
    assert engine.stats.requests == 0


# --- which models the engine serves ------------------------------------------------------------


@pytest.fixture(scope="module")
def sliding_configs(tok):
    return {
        "mistral": _small(transformers.MistralConfig, tok, sliding_window=16),
        "qwen2": _small(
            transformers.Qwen2Config,
            tok,
            use_sliding_window=True,
            sliding_window=16,
            max_window_layers=0,
        ),
    }


def test_engine_supports_plain_caches(models):
    assert ContinuousBatcher.supports(models["gpt2"])
    assert ContinuousBatcher.supports(models["llama"])


def test_engine_needs_swappable_attention(models, monkeypatch):
    monkeypatch.setattr(type(models["llama"]), "_supports_attention_backend", False)
    assert not ContinuousBatcher.supports(models["llama"])


@pytest.mark.parametrize("name", ["mistral", "qwen2"])
def test_sliding_window_models_fall_back_to_generate(name, sliding_configs, tok, reference):
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(sliding_configs[name]).eval()
    assert not ContinuousBatcher.supports(model)
    lm = LocalCausalLM(model, tok, "x")
    assert lm.engine is None
    out = lm.complete(list(PROMPTS[:2]), max_tokens=5, temperature=0.0, stop=[])
    assert [c.text for c in out] == [_expected(tok, reference, model, p, 5) for p in PROMPTS[:2]]


def test_generate_engine_can_be_chosen(models, tok):
    assert LocalCausalLM(models["gpt2"], tok, "x").engine is not None
    lm = LocalCausalLM(models["gpt2"], tok, "x", engine="generate")
    assert lm.engine is None
    assert lm.complete(["Hi"], max_tokens=3, temperature=0.0, stop=[])[0].output_tokens == 3


def test_slots_grow_as_rows_join_keeping_the_rows_already_there(models, tok, reference):
    model = models["llama"]
    engine = ContinuousBatcher(model, tok, prefix_cache_bytes=0, max_batch=32)
    prompts = [f"{p} {i}" for i in range(3) for p in PROMPTS]  # 12 rows: 8, then 4 more
    out = engine.submit([Row(p, N, 0.0) for p in prompts])
    assert engine._layers[0].key_buffer.shape[0] == 16
    assert max(engine.stats.batch_sizes) == 12
    assert [c.text for c in out] == [_expected(tok, reference, model, p) for p in prompts]
