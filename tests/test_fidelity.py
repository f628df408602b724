"""Simulator fidelity: first-prompt overlap, turns and accuracy vs people, and the CLI commands.

BLEU is the paper's per-question corpus BLEU (Hugging Face ``bleu``) and ROUGE-1 F1 the mean
over pairs; both are on 0-1.
"""

from __future__ import annotations

import math
import re
import sys
from importlib.util import find_spec

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from chatbench import ConfigError, GraphSpec, MissingDependencyError, Question, run_conversations
from chatbench.cli.fidelity import fidelity_command
from chatbench.cli.train import perplexity_command, train_command
from chatbench.data.human_data import HumanConversation, load_chatbench_conversations
from chatbench.datatypes import StopReason
from chatbench.records import TranscriptTurn
from chatbench.training.fidelity import (
    accuracy_agreement,
    chatbench_split,
    conversation_questions,
    first_prompts,
    load_human_conversations,
    overlap,
    real_first_prompts,
    simulated_turns,
    turns_vs_people,
)
from tests.conftest import FIXTURES, GPT2_TOKENIZER

needs_metrics = pytest.mark.skipif(
    find_spec("rouge_score") is None, reason="ROUGE needs the train extra (rouge-score)",
)
CONVERSATIONS = FIXTURES / "chatbench_conversations.json"


def _question(qid: str, answer: str) -> Question:
    return Question(id=qid, subject="elementary_mathematics", stem=f"Question {qid}?",
                    choices=("1", "2", "3", "4"), answer=answer)


def _human(question: Question, choice: str | None, turns: int = 1,
           model: str = "gpt-4o") -> HumanConversation:
    return HumanConversation(
        question=question, user_turns=[f"turn {i}" for i in range(turns)],
        assistant_turns=[f"reply {i}" for i in range(turns)], final_choice=choice,
        correct=None if choice is None else choice == question.answer,
        assistant_model=model, source="chatbench")


def _scripted(*turns: str) -> GraphSpec:
    return GraphSpec(name="scripted", simulator="scripted", scripted_turns=turns, accept="natural")


# --------------------------------------------------------------------------------------------
# overlap
# --------------------------------------------------------------------------------------------


@needs_metrics
def test_identical_prompts_score_rouge_one_and_bleu_one():
    text = "what is the derivative of x squared"
    result = overlap({"q": [text]}, {"q": [text]})
    assert result.rouge1 == pytest.approx(1.0)
    assert result.bleu == pytest.approx(1.0)  # the paper's 0-1 scale
    assert (result.questions, result.pairs) == (1, 1)
    assert result.note is None


@needs_metrics
def test_disjoint_prompts_score_zero():
    result = overlap({"q": ["alpha beta gamma delta"]}, {"q": ["one two three four"]})
    assert result.rouge1 == 0.0
    assert result.bleu == 0.0


@needs_metrics
def test_overlap_averages_pairs_per_question_then_questions():
    simulated = {"same": ["help me solve this"], "diff": ["zzz", "yyy", "xxx"],
                 "only_sim": ["nothing real"]}
    real = {"same": ["help me solve this"], "diff": ["help me"], "only_real": ["no sim"]}
    result = overlap(simulated, real)
    assert (result.questions, result.pairs) == (2, 4)
    assert result.per_question["same"].rouge1 == pytest.approx(1.0)
    assert result.per_question["diff"].pairs == 3
    # question mean (1 + 0) / 2, not the pair mean (1 + 0 + 0 + 0) / 4
    assert result.rouge1 == pytest.approx(0.5)
    assert result.bleu == pytest.approx(0.5)


@needs_metrics
def test_overlap_scores_every_simulated_against_every_real():
    result = overlap({"q": ["the cat sat", "a dog ran"]}, {"q": ["the cat sat", "a dog ran"]})
    assert result.pairs == 4
    assert result.rouge1 == pytest.approx(0.5)


@needs_metrics
def test_bleu_is_one_corpus_score_over_a_questions_pairs_not_a_mean_of_pairs():
    cat, ab = "the cat sat on the mat", "a b"
    two = overlap({"q": [cat, ab]}, {"q": [cat]})
    # predictions [cat, ab] vs references [cat, cat]: pooled n-gram precisions 6/8, 5/6, 4/4,
    # 3/3; lengths 8 vs 12, so a brevity penalty exp(1 - 12/8). A mean of sentence BLEUs
    # would be (1 + 0) / 2.
    assert two.pairs == 2
    assert two.bleu == pytest.approx((6 / 8 * 5 / 6) ** 0.25 * math.exp(1 - 12 / 8))
    assert two.bleu == pytest.approx(0.539290, abs=1e-6)
    four = overlap({"q": [cat, ab]}, {"q": [cat, "c d"]})
    # all four pairs: only (cat, cat) matches; precisions 6/16, 5/12, 4/8, 3/6, lengths 16/16
    assert four.pairs == 4
    assert four.bleu == pytest.approx((6 / 16 * 5 / 12 * 4 / 8 * 3 / 6) ** 0.25)
    assert four.bleu == pytest.approx(0.444570, abs=1e-6)


@needs_metrics
def test_overlap_without_shared_questions_is_nan_with_a_note():
    result = overlap({"a": ["x"]}, {"b": ["x"]})
    assert math.isnan(result.rouge1) and math.isnan(result.bleu)
    assert result.questions == 0 and result.note


@needs_metrics
def test_overlap_scores_blank_prompts_as_the_papers_code_does():
    """The paper pairs every first prompt, blank ones too: a blank side scores 0."""
    result = overlap({"a": ["seven times eight", ""]}, {"a": ["seven times eight", "   "]})
    assert result.pairs == 4
    assert result.rouge1 == pytest.approx(0.25)


def test_overlap_without_the_train_extra_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "rouge_score", None)
    monkeypatch.setitem(sys.modules, "rouge_score.rouge_scorer", None)
    with pytest.raises(MissingDependencyError, match=r"chatbench\[train\]"):
        overlap({"q": ["a"]}, {"q": ["a"]})


# --------------------------------------------------------------------------------------------
# turns and accuracy
# --------------------------------------------------------------------------------------------


def test_simulated_turns_leave_out_the_final_answer_message():
    transcript = [TranscriptTurn(role="user", content="hi"),
                  TranscriptTurn(role="assistant", content="hello"),
                  TranscriptTurn(role="user", content="Answer: B")]
    assert simulated_turns(transcript) == 1
    assert simulated_turns([]) == 0


def test_turns_vs_people_per_question_and_overall():
    q1, q2, q3 = _question("q1", "B"), _question("q2", "B"), _question("q3", "A")
    records = run_conversations([q1, q2], _scripted("hi", "more", "Answer: B"),
                                user=None, assistant="fake:echo", replicates=2)
    records += run_conversations([q3], _scripted("Answer: A"), user=None,
                                 assistant="fake:echo")
    humans = [_human(q1, "B", turns=1), _human(q1, "B", turns=3), _human(q2, "A", turns=4)]
    result = turns_vs_people(records, humans)
    assert result.questions == 2  # q3 has no people
    assert result.per_question["q1"].simulated == 2.0
    assert result.per_question["q1"].human == 2.0
    assert result.per_question["q1"].simulated_conversations == 2
    assert result.per_question["q2"].human == 4.0
    assert result.simulated == 2.0
    assert result.human == pytest.approx(3.0)  # mean of per-question means (2 and 4)


def test_turns_vs_people_leaves_out_failed_conversations():
    q1 = _question("q1", "B")
    record = run_conversations([q1], _scripted("hi", "Answer: B"), user=None,
                               assistant="fake:echo")[0]
    failed = record.model_copy(update={"stop_reason": StopReason.ERROR, "error": "boom"})
    result = turns_vs_people([failed], [_human(q1, "B")])
    assert result.questions == 0 and math.isnan(result.simulated) and result.note


def _accuracy_records() -> list:
    q1, q2, q3 = _question("q1", "B"), _question("q2", "B"), _question("q3", "A")
    return run_conversations([q1, q2, q3], _scripted("Answer: B"), user=None,
                             assistant="fake:echo", replicates=2)


def test_accuracy_agreement_pearson_and_mae():
    q1, q2, q3 = _question("q1", "B"), _question("q2", "B"), _question("q3", "A")
    humans = [_human(q1, "B"), _human(q2, "B"), _human(q2, "C"), _human(q3, "C"),
              _human(q3, "A", model="llama-3.1-8b"), _human(q1, None)]
    result = accuracy_agreement(_accuracy_records(), humans, "gpt-4o")
    simulated, real = [1.0, 1.0, 0.0], [1.0, 0.5, 0.0]
    assert result.n == 3
    assert result.per_question == {"q1": (1.0, 1.0), "q2": (1.0, 0.5), "q3": (0.0, 0.0)}
    assert result.pearson_r == pytest.approx(np.corrcoef(simulated, real)[0, 1])
    assert result.mae == pytest.approx(0.5 / 3)
    assert result.note is None


def test_accuracy_agreement_leaves_out_unanswered_conversations():
    records = _accuracy_records()
    unanswered = records[0].model_copy(update={"final_choice": None, "verdict": "no_answer"})
    q = _question(records[0].question_id, "B")
    result = accuracy_agreement([unanswered], [_human(q, "B")], "gpt-4o")
    assert result.n == 0 and math.isnan(result.mae) and result.note


def test_accuracy_agreement_with_one_question_or_no_variation_is_nan():
    records = _accuracy_records()
    one = accuracy_agreement(records, [_human(_question("q1", "B"), "B")], "gpt-4o")
    assert one.n == 1 and math.isnan(one.pearson_r) and one.mae == 0.0 and one.note
    same = [_human(_question(q, "B"), "B") for q in ("q1", "q2", "q3")]
    flat = accuracy_agreement(records, same, "gpt-4o")
    assert flat.n == 3 and math.isnan(flat.pearson_r) and "undefined" in flat.note
    assert flat.mae == pytest.approx(1 / 3)
    other = accuracy_agreement(records, same, "llama-3.1-8b")
    assert other.n == 0 and math.isnan(other.pearson_r)


# --------------------------------------------------------------------------------------------
# first prompts, data splits
# --------------------------------------------------------------------------------------------


def test_first_prompts_samples_each_question():
    questions = [_question("q1", "B"), _question("q2", "A")]
    prompts = first_prompts(GraphSpec(), "fake:say:Can you help?", questions, samples=3,
                            concurrency=2)
    assert prompts == {"q1": ["Can you help?"] * 3, "q2": ["Can you help?"] * 3}


def test_first_prompts_rejects_nonpositive_samples():
    with pytest.raises(ConfigError, match="samples"):
        first_prompts(GraphSpec(), "fake:echo", [_question("q1", "B")], samples=0)


def test_chatbench_split_is_fixed_and_partitions_questions():
    everything = load_human_conversations("chatbench", CONVERSATIONS, "all")
    train = load_human_conversations("chatbench", CONVERSATIONS, "train")
    heldout = load_human_conversations("chatbench", CONVERSATIONS, "heldout")
    assert len(train) + len(heldout) == len(everything)
    assert {c.question.id for c in heldout} == {"conceptual_physics-test-40"}
    assert all(chatbench_split(c.question.id) == "train" for c in train)


@pytest.mark.parametrize(
    ("data", "path", "split", "field"),
    [("mmlu", None, "all", "data"), ("chatbench", None, "all", "data_path"),
     ("halie", None, "test", "split")],
)
def test_load_human_conversations_names_the_bad_field(data, path, split, field):
    with pytest.raises(ConfigError, match=f"'{field}'"):
        load_human_conversations(data, path, split)


def test_load_human_conversations_names_a_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="nope.json"):
        load_human_conversations("chatbench", tmp_path / "nope.json", "all")


def test_real_first_prompts_and_questions_keep_file_order():
    humans = load_chatbench_conversations(CONVERSATIONS)
    prompts = real_first_prompts(humans)
    assert prompts["elementary_mathematics-redux-12"] == ["what is 7 times 8", "7 x 8?"]
    assert [q.id for q in conversation_questions(humans)] == [
        "elementary_mathematics-redux-12", "conceptual_physics-test-40"]


# --------------------------------------------------------------------------------------------
# CLI commands
# --------------------------------------------------------------------------------------------


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    app.command("train")(train_command)
    app.command("perplexity")(perplexity_command)
    app.command("fidelity")(fidelity_command)
    return app


def _invoke(app: typer.Typer, *args: str):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def test_train_command_rejects_bad_options_before_loading(cli):
    result = _invoke(cli, "train", "--epochs", "0")
    assert isinstance(result.exception, ConfigError)
    assert "epochs" in str(result.exception)
    result = _invoke(cli, "train", "--data", "chatbench")
    assert isinstance(result.exception, ConfigError)
    assert "data_path" in str(result.exception)


# --------------------------------------------------------------------------------------------
# perplexity and train with a tiny GPT-2 built here
# --------------------------------------------------------------------------------------------


@pytest.fixture
def tiny_gpt2(tmp_path):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    tok = transformers.AutoTokenizer.from_pretrained(GPT2_TOKENIZER)
    config = transformers.GPT2Config(n_layer=1, n_head=2, n_embd=32, n_positions=512,
                                     vocab_size=len(tok))
    folder = tmp_path / "tiny"
    transformers.GPT2LMHeadModel(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.mark.hf
def test_perplexity_command_compares_models_in_one_table(cli, tiny_gpt2):
    result = _invoke(cli, "perplexity", "--model", f"hf:{tiny_gpt2}", "--model", str(tiny_gpt2),
                     "--data", "chatbench", "--data-path", str(CONVERSATIONS), "--split", "all",
                     "--max-length", "512", "--limit", "5")
    assert result.exit_code == 0, result.output
    assert "5 examples" in result.output
    assert "perplexity" in result.output and "1.000" in result.output
    # examples | target tokens | mean NLL | perplexity | ratio, one row per --model
    rows = re.findall(r"│\s+5 │\s+(\d+) │\s+([\d.]+) │\s+([\d.]+) │\s+([\d.]+) │",
                      result.output)
    assert len(rows) == 2, result.output
    assert rows[0] == rows[1]  # the same weights twice
    assert float(rows[0][2]) > 1.0 and rows[1][3] == "1.000"


@pytest.mark.hf
def test_train_command_trains_on_halie_train_split(cli, tiny_gpt2, tmp_path):
    out = tmp_path / "sim"
    result = _invoke(cli, "train", "--base", str(tiny_gpt2), "--out", str(out),
                     "--epochs", "1", "--batch-size", "2", "--max-length", "512",
                     "--max-examples", "4", "--lr", "1e-3", "--validation-share", "0")
    assert result.exit_code == 0, result.output
    assert "halie train split: " in result.output and "20 questions" in result.output
    assert "trained on 4 examples, validated on 0" in result.output
    assert "no validation loss" in result.output
    assert f"hf:{out}" in result.output.replace("\n", "")
    assert (out / "config.json").is_file()


@pytest.mark.hf
def test_train_command_exports_the_simulator_to_gguf(cli, tiny_gpt2, tmp_path):
    out = tmp_path / "sim"
    result = _invoke(cli, "train", "--base", str(tiny_gpt2), "--out", str(out),
                     "--epochs", "1", "--batch-size", "2", "--max-length", "512",
                     "--max-examples", "2", "--validation-share", "0", "--export-gguf", "f32")
    assert result.exit_code == 0, result.output
    assert (out / "model-f32.gguf").is_file()
    assert f"gguf:{out / 'model-f32.gguf'}" in result.output.replace("\n", "")


def test_train_command_refuses_unknown_gguf_weights_before_training(cli):
    result = _invoke(cli, "train", "--export-gguf", "q4_k")
    assert isinstance(result.exception, ConfigError)  # ``main`` prints it as one line
    assert "--export-gguf must be one of f32, f16, q8_0" in str(result.exception)
