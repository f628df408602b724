"""``benchmarks/throughput.py``'s summary lines: every name, in a parseable ``name: value``
form, without running the benchmark (its pure summary helpers only)."""

from __future__ import annotations

import re

import pytest

from tests.conftest import benchmark_module

NAMES = (
    "speedup",
    "c1_speedup",
    "server_ratio_c1",
    "server_ratio_c8",
    "server_ratio_c32",
    "peer_ratio_c8",
    "llamacpp_prompt_pos_per_token",
    "torch_c1_vs_sequential",
)
LINE = re.compile(r"^(?P<name>[a-z0-9_]+): (?P<value>.+)$")
NOT_AVAILABLE = re.compile(r"^n/a \(.+\)$")


@pytest.fixture(scope="module")
def throughput():
    yield from benchmark_module("throughput")


def parsed(lines: list[str]) -> dict[str, str]:
    """``name -> value`` of the summary lines (``default engine: X`` is not one of them)."""
    values = {}
    for line in lines:
        if line.startswith("default engine: "):
            continue
        match = LINE.match(line)
        assert match, f"not a 'name: value' line: {line!r}"
        values[match["name"]] = match["value"]
    return values


def number_or_na(value: str) -> float | None:
    """The value as a float, or None for ``n/a (why)``; anything else fails."""
    if NOT_AVAILABLE.match(value):
        return None
    return float(value)


def result(
    throughput,
    method: str,
    conversations: int,
    seconds: float,
    tokens: int = 100,
    positions: int = 250,
    metric_tokens: int | None = None,
):
    return throughput.Result(
        method, conversations, seconds, tokens, 10, positions, tokens, metric_tokens
    )


def test_every_line_is_printed_parseable_with_all_measured(throughput):
    runs = {c: result(throughput, f"(b) C={c}", c, 60.0) for c in (1, 8, 32)}
    llama = {c: result(throughput, f"(d) C={c}", c, 30.0) for c in (1, 8, 32)}
    server = {c: result(throughput, f"(e) C={c}", c, 45.0, metric_tokens=900) for c in (1, 8, 32)}
    sequential = result(throughput, "(a)", 1, 120.0)
    peer = result(throughput, "(f) C=8", 8, 60.0, metric_tokens=600)
    numbers = throughput.summary_numbers(
        [1, 8, 32], sequential, runs, llama, server, "llamacpp", None, peer
    )
    lines = throughput.summary_lines(numbers, "llamacpp")
    values = parsed(lines)
    assert set(NAMES) <= set(values)
    floats = {name: number_or_na(values[name]) for name in NAMES}
    assert all(v is not None for v in floats.values()), values
    assert floats["server_ratio_c8"] == pytest.approx(1.5)  # 45 s over 30 s
    assert floats["peer_ratio_c8"] == pytest.approx(2.0)  # 900 tokens/45 s over 600/60 s
    names = [line.partition(":")[0] for line in lines]
    assert names.index("peer_ratio_c8") == names.index("server_ratio_c32") + 1
    assert floats["torch_c1_vs_sequential"] == pytest.approx(2.0)
    assert floats["speedup"] == pytest.approx(32 * 2.0)  # 32 conv/60 s over 1 conv/120 s
    assert floats["c1_speedup"] == pytest.approx(2.0)
    assert floats["llamacpp_prompt_pos_per_token"] == pytest.approx(2.5)
    assert lines[-1].startswith("c1_speedup: ")  # still the last line
    assert "default engine: llamacpp" in lines


def test_lines_not_measured_say_n_a_with_a_reason(throughput):
    llama = {8: result(throughput, "(d) C=8", 8, 30.0)}
    numbers = throughput.summary_numbers(
        [8],
        None,
        {},
        llama,
        {},
        "llamacpp",
        {
            "sequential": "torch not installed",
            "torch": "torch not installed",
            "server": "server failed: OSError: no port (errno 98)",
        },
    )
    values = parsed(throughput.summary_lines(numbers))
    assert set(NAMES) <= set(values)
    for name in NAMES:
        number_or_na(values[name])  # parses either way
    assert values["server_ratio_c1"] == "n/a (level 1 not run)"
    assert values["server_ratio_c8"].startswith("n/a (server failed")
    assert values["peer_ratio_c8"].startswith("n/a (server failed")
    assert values["speedup"] == "n/a (torch not installed)"
    assert number_or_na(values["llamacpp_prompt_pos_per_token"]) == pytest.approx(2.5)


def test_a_name_missing_from_the_numbers_is_still_printed(throughput):
    values = parsed(throughput.summary_lines({"speedup": 3.14159}))
    assert values["speedup"] == "3.14"
    assert set(NAMES) <= set(values)
    assert all(NOT_AVAILABLE.match(values[n]) for n in NAMES if n != "speedup")
    assert throughput.format_value(float("nan")).startswith("n/a (")


def test_peer_ratio_needs_both_runs_and_the_servers_counts(throughput):
    llama = {8: result(throughput, "(d) C=8", 8, 30.0)}
    server = {8: result(throughput, "(e) C=8", 8, 45.0, metric_tokens=900)}
    skipped = throughput.summary_numbers(
        [8], None, {}, llama, server, "llamacpp", {"peer": "skipped"}
    )
    assert parsed(throughput.summary_lines(skipped))["peer_ratio_c8"] == "n/a (skipped)"
    uncounted = result(throughput, "(f) C=8", 8, 60.0)  # no /metrics tokens
    numbers = throughput.summary_numbers([8], None, {}, llama, server, "llamacpp", None, uncounted)
    value = parsed(throughput.summary_lines(numbers))["peer_ratio_c8"]
    assert value == "n/a (no /metrics tokens)"
    other_level = throughput.summary_numbers([1], None, {}, {}, {}, "llamacpp")
    value = parsed(throughput.summary_lines(other_level))["peer_ratio_c8"]
    assert value == "n/a (level 8 not run)"
