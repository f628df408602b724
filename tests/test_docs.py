"""The documentation (issue 26): a short README for newcomers, the rest in an mkdocs site under
``docs/`` that builds with ``--strict``, and every Python example in either one runs.

A Python block that cannot run here (it needs real weights, the network, a GPU, the ChatBench
release or a long run, or it is a fragment) says so on the line just before its fence::

    <!-- not run: needs an API key for openai:gpt-4o -->
    ```python

Every other block runs in a fresh interpreter in an empty folder, offline, with its own model
cache.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 250

_FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)[ \t]*$")
_NOT_RUN = re.compile(r"^[ \t]*<!--[ \t]*not run:(?P<reason>.*?)-->[ \t]*$")


@dataclass(frozen=True)
class Block:
    """One ```python block of a documentation file."""

    path: Path
    line: int
    """The 1-based line of its opening fence."""
    code: str
    marker: str | None
    """The line before the fence when it is an HTML comment, else None."""

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT).as_posix()}:{self.line}"

    @property
    def not_run_reason(self) -> str | None:
        """The reason of a well-formed ``<!-- not run: REASON -->`` marker, else None."""
        match = _NOT_RUN.match(self.marker or "")
        return match["reason"].strip() or None if match else None


def python_blocks(path: Path) -> list[Block]:
    """The ```python blocks of one Markdown file, dedented (a block may sit in a list item)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks = []
    index = 0
    while index < len(lines):
        opening = _FENCE_OPEN.match(lines[index])
        if not opening:
            index += 1
            continue
        indent = opening["indent"]
        end = index + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        assert end < len(lines), f"{path.name}:{index + 1}: a code fence is never closed"
        if opening["lang"] == "python":
            body = [line[len(indent):] if line.startswith(indent) else line.lstrip()
                    for line in lines[index + 1:end]]
            before = lines[index - 1].strip() if index else ""
            blocks.append(Block(path, index + 1, "\n".join(body) + "\n",
                                before if before.startswith("<!--") else None))
        index = end + 1
    return blocks


BLOCKS = [block for path in DOC_FILES for block in python_blocks(path)]

# Run in the block's interpreter before the block: like tests/conftest.py, no block may reach
# the network (a block that needs it must say so).
_GUARD = """\
import runpy, socket, sys
_connect = socket.socket.connect
def _loopback_only(self, address):
    host = address[0] if isinstance(address, tuple) else address
    if (self.family != getattr(socket, "AF_UNIX", None) and isinstance(host, str)
            and host not in ("127.0.0.1", "localhost", "::1", "")):
        raise RuntimeError(f"a docs example must not reach the network (tried {address!r}); "
                           "mark it <!-- not run: REASON --> if it needs to")
    return _connect(self, address)
socket.socket.connect = _loopback_only
runpy.run_path(sys.argv[1], run_name="__main__")
"""


def test_the_docs_find_python_blocks() -> None:
    """The extraction itself: both the README and the site have examples, some of which run."""
    files = {block.path.name for block in BLOCKS}
    assert "README.md" in files and len(files) > 2, files
    assert any(block.not_run_reason is None for block in BLOCKS)


@pytest.mark.parametrize("block", BLOCKS, ids=[block.where for block in BLOCKS])
def test_every_python_block_in_the_docs_runs(block: Block, tmp_path: Path) -> None:
    if block.marker is not None and "not run" in block.marker:
        assert block.not_run_reason, (
            f"{block.where}: write the marker as <!-- not run: REASON --> with a reason, "
            f"not {block.marker!r}"
        )
    if block.not_run_reason:
        pytest.skip(f"{block.where}: not run: {block.not_run_reason}")
    script = tmp_path / "block.py"
    script.write_text(block.code, encoding="utf-8")
    env = {
        **os.environ,
        "CHATBENCH_CACHE": str(tmp_path / "cache"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "MPLBACKEND": "Agg",
    }
    try:
        done = subprocess.run(
            [sys.executable, "-c", _GUARD, str(script)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(
            f"{block.where}: the python block ran past 120 s; if it needs a long run, mark it "
            "<!-- not run: REASON --> on the line before its fence"
        )
    assert done.returncode == 0, (
        f"{block.where}: the python block failed (exit {done.returncode})\n"
        f"--- code ---\n{block.code}--- stdout ---\n{done.stdout[-4000:]}\n"
        f"--- stderr ---\n{done.stderr[-4000:]}"
    )


def test_the_docs_build_strict(tmp_path: Path) -> None:
    missing = [name for name in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers")
               if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"the docs extra is not installed ({', '.join(missing)} missing): "
                    "pip install '.[docs]'")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, (
        f"mkdocs build --strict failed (exit {done.returncode})\n{done.stdout[-6000:]}\n"
        f"{done.stderr[-6000:]}"
    )
    assert (tmp_path / "site" / "reference" / "index.html").is_file()


def test_every_docs_page_is_in_the_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    pages = {path.name for path in (ROOT / "docs").glob("*.md")}
    listed = set(re.findall(r":\s*([\w-]+\.md)\s*$", nav, flags=re.M))
    assert pages == listed, f"in docs/ but not in the nav: {sorted(pages - listed)}; " \
                            f"in the nav but not in docs/: {sorted(listed - pages)}"


def test_the_readme_is_short() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines (at most {README_MAX_LINES}): move the detail to a "
        "page under docs/"
    )


def test_the_readme_starts_with_the_ci_commands() -> None:
    """``.ci/run`` runs the first two ```bash blocks after "## Quick start": set-up with the
    default run, then the tests."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    head, section = readme.split("## Quick start", 1)
    assert "```" not in head
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)[:2]
    assert "pip install '.[all]' && chatbench run" in blocks[0]
    assert "python -m pytest" in blocks[1]


# The ## and ### headings of the README before it moved to docs/ (1,533 lines): each one is a
# heading of the README or of a docs page still.
OLD_README_HEADINGS = [
    "Quick start",
    "What a run does",
    "The paper's protocol, and chatbench's own variant",
    "Command line",
    "Runs at scale",
    "Reliability: what is guaranteed",
    "What a run id means, and what is run again",
    "AI-alone baseline runs",
    "Timeouts",
    "Text, printing and files",
    "Reading stores",
    "Size limits",
    "Strict input",
    "Judging and reports",
    "Reproduce the paper's analyses from the ChatBench release",
    "Models",
    "Local engines: llama.cpp and torch",
    "Which binding, which weights",
    "Fine-tuned simulators on llama.cpp",
    "Steady on a busy CPU",
    "Apps as the assistant",
    "LangGraph-native use: Studio, checkpoints, streaming, async",
    "LangGraph Studio (`langgraph dev`)",
    "Checkpoints: inspect and resume a conversation",
    "Watching a conversation live (notebooks)",
    "Async API",
    "Variants: graph specs and personas",
    "Python API",
    "Training a simulator on real people",
    "Chat-format data for fine-tuning an API model",
    "How human is my simulator? The realism scorecard",
    "Fine-tuned vs prompted SmolLM2 on the scorecard (`benchmarks/halie_simulator.py`)",
    "Questions",
    "Performance (measured, `benchmarks/`)",
    "Engines side by side (`benchmarks/throughput.py`, one run)",
    "The torch engine",
    "Data and licences",
    "Development",
]


def _headings(path: Path) -> set[str]:
    headings, fenced = set(), False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and (match := re.match(r"^#{1,6} +(.*?)\s*#*\s*$", line)):
            headings.add(match[1])
    return headings


def test_every_old_readme_heading_is_somewhere() -> None:
    present = set().union(*(_headings(path) for path in DOC_FILES))
    lost = [heading for heading in OLD_README_HEADINGS if heading not in present]
    assert not lost, f"old README sections with no heading in README.md or docs/*.md: {lost}"
