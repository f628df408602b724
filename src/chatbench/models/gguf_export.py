"""A transformers causal LM folder (``chatbench train`` output) as a GGUF file for ``gguf:``.

Written with the ``gguf`` package's writer, without torch: the weights are read from the
folder's safetensors files as numpy arrays. Two architectures are supported, the ones chatbench
fine-tunes: ``llama`` (SmolLM2 and its fine-tunes) and ``gpt2`` (distilgpt2, the paper's
simulator). The tensors are renamed and laid out as llama.cpp's own converter
(``convert_hf_to_gguf.py``) does: query and key projections permuted back to llama.cpp's
rotary layout, GPT-2's ``Conv1D`` weights transposed. The tokenizer (byte-level BPE) goes in
with its merges, special tokens and chat template.

Example:
    >>> export_gguf(Path("runs/simulator"), Path("simulator.gguf"))  # doctest: +SKIP
    PosixPath('simulator.gguf')
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chatbench import _json as strict_json
from chatbench.errors import ConfigError, MissingDependencyError

OUT_TYPES = ("f32", "f16", "q8_0")
"""The weight types a GGUF file can be written with (norms and biases stay f32)."""
ARCHITECTURES = ("llama", "gpt2")
"""The ``model_type`` values of ``config.json`` that can be exported."""


def _gguf() -> Any:
    try:
        import gguf
        from safetensors import safe_open  # noqa: F401  (checked here, used below)
    except ImportError:
        raise MissingDependencyError("exporting a model to GGUF", extra="gguf") from None
    return gguf


def read_json(path: Path) -> dict[str, Any]:
    try:
        return strict_json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
    except FileNotFoundError:
        raise ConfigError(f"{str(path.parent)!r} has no {path.name}: not a model folder") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {str(path)!r}: {exc}") from None


def _weights(folder: Path) -> Iterator[tuple[str, Any]]:
    """``(name, float32 array)`` for every tensor of the folder's safetensors files."""
    from safetensors import safe_open

    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise ConfigError(f"{str(folder)!r} has no .safetensors weights to export")
    for file in files:
        with safe_open(file, framework="numpy") as tensors:
            for name in tensors.keys():  # noqa: SIM118 - safe_open is not a mapping
                yield name, tensors.get_tensor(name).astype("float32")


def _permute(weights: Any, heads: int) -> Any:
    """transformers' rotary layout (halves) to llama.cpp's (pairs), as llama.cpp converts."""
    shape = weights.shape
    return (
        weights.reshape(heads, 2, shape[0] // heads // 2, *shape[1:]).swapaxes(1, 2).reshape(shape)
    )


def _llama_tensors(config: dict[str, Any], folder: Path) -> Iterator[tuple[str, Any]]:
    heads, kv_heads = config["num_attention_heads"], config.get("num_key_value_heads")
    for name, data in _weights(folder):
        if name.endswith("self_attn.q_proj.weight"):
            data = _permute(data, heads)
        elif name.endswith("self_attn.k_proj.weight"):
            data = _permute(data, kv_heads or heads)
        elif "rotary_emb.inv_freq" in name:
            continue
        yield name, data


def _gpt2_tensors(config: dict[str, Any], folder: Path) -> Iterator[tuple[str, Any]]:
    names = set()
    for name, data in _weights(folder):
        if name.endswith((".attn.bias", ".attn.masked_bias")):
            continue  # causal-mask buffers, not weights
        if name.endswith((".c_attn.weight", ".c_proj.weight", ".c_fc.weight")):
            data = data.T  # GPT-2's Conv1D stores [in, out]
        names.add(name)
        yield name, data
        if name.endswith("wte.weight") and not any("lm_head" in n for n in names):
            yield "lm_head.weight", data  # tied: llama.cpp's GPT-2 reads an output matrix


def _hyperparameters(writer: Any, config: dict[str, Any]) -> None:
    if config["model_type"] == "llama":
        rope = config.get("rope_parameters") or {}
        heads = config["num_attention_heads"]
        writer.add_context_length(config["max_position_embeddings"])
        writer.add_embedding_length(config["hidden_size"])
        writer.add_block_count(config["num_hidden_layers"])
        writer.add_feed_forward_length(config["intermediate_size"])
        writer.add_head_count(heads)
        writer.add_head_count_kv(config.get("num_key_value_heads") or heads)
        writer.add_layer_norm_rms_eps(config["rms_norm_eps"])
        writer.add_rope_freq_base(rope.get("rope_theta") or config.get("rope_theta", 10000.0))
        writer.add_rope_dimension_count(config.get("head_dim") or config["hidden_size"] // heads)
        writer.add_vocab_size(config["vocab_size"])
    else:
        width = config["n_embd"]
        writer.add_context_length(config["n_positions"])
        writer.add_embedding_length(width)
        writer.add_feed_forward_length(config.get("n_inner") or 4 * width)
        writer.add_block_count(config["n_layer"])
        writer.add_head_count(config["n_head"])
        writer.add_layer_norm_eps(config["layer_norm_epsilon"])


def _pre_tokenizer(folder: Path) -> str:
    """llama.cpp's name for the folder's pre-tokenizer (how text is split before BPE)."""
    tokenizer = folder / "tokenizer.json"
    if not tokenizer.is_file():
        return "gpt-2"  # a slow GPT-2 tokenizer (vocab.json + merges.txt)
    pre = read_json(tokenizer).get("pre_tokenizer") or {}
    parts = pre.get("pretokenizers", [pre]) if pre.get("type") == "Sequence" else [pre]
    kinds = [(p.get("type"), p.get("individual_digits")) for p in parts]
    if kinds == [("ByteLevel", None)]:
        return "gpt-2"
    if kinds == [("Digits", True), ("ByteLevel", None)]:
        return "smollm"
    raise ConfigError(f"{str(folder)!r}: a pre-tokenizer GGUF export does not know: {pre}")


def _tokenizer(writer: Any, gguf: Any, folder: Path) -> None:
    try:
        vocab = gguf.BpeVocab(folder)
    except (FileNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"{str(folder)!r}: only byte-level BPE tokenizers export ({exc})"
        ) from None
    special = set()
    if (folder / "tokenizer.json").is_file():
        added = read_json(folder / "tokenizer.json").get("added_tokens") or []
        special = {t["content"] for t in added if t.get("special")}
    tokens, types = [], []
    for text, _score, kind in vocab.all_tokens():
        token = text if isinstance(text, str) else text.decode("utf-8")
        tokens.append(token)
        types.append(gguf.TokenType.CONTROL if token in special else kind)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(_pre_tokenizer(folder))
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    gguf.SpecialVocab(folder, load_merges=True, n_vocab=len(tokens)).add_to_gguf(writer, quiet=True)


def _typed(gguf: Any, data: Any, out_type: str) -> tuple[Any, Any]:
    """The array to write and its GGML type: vectors stay f32, matrices take ``out_type``."""
    quant = gguf.GGMLQuantizationType
    if out_type == "f32" or data.ndim < 2:
        return data, quant.F32
    if out_type == "q8_0" and data.shape[-1] % 32 == 0:
        return gguf.quants.quantize(data, quant.Q8_0), quant.Q8_0
    return data.astype("float16"), quant.F16


_FILE_TYPES = {"f32": "ALL_F32", "f16": "MOSTLY_F16", "q8_0": "MOSTLY_Q8_0"}


def export_gguf(folder: Path, out: Path, out_type: str = "f16") -> Path:
    """Write the causal LM in ``folder`` as the GGUF file ``out`` (replaced atomically).

    Args:
        folder: A transformers model folder with safetensors weights and a byte-level BPE
            tokenizer (what ``chatbench train`` saves).
        out: The ``.gguf`` file to write.
        out_type: Weights of matrices: ``f32`` (exact), ``f16`` (half the size) or ``q8_0``
            (a quarter; llama.cpp's fastest of the three on most CPUs).

    Returns:
        ``out``.

    Raises:
        ConfigError: Not a model folder, an architecture or tokenizer that cannot be exported,
            an unknown ``out_type``, or ``out`` cannot be written.
        MissingDependencyError: The ``gguf`` package is not installed.
    """
    if out_type not in OUT_TYPES:
        raise ConfigError(f"GGUF weights must be one of {', '.join(OUT_TYPES)}, not {out_type!r}")
    gguf = _gguf()
    config = read_json(folder / "config.json")
    kind = config.get("model_type")
    if kind not in ARCHITECTURES:
        raise ConfigError(
            f"{str(folder)!r} is a {kind!r} model; GGUF export knows {', '.join(ARCHITECTURES)}"
        )
    arch = gguf.MODEL_ARCH.LLAMA if kind == "llama" else gguf.MODEL_ARCH.GPT2
    blocks = config["num_hidden_layers"] if kind == "llama" else config["n_layer"]
    names = gguf.get_tensor_name_map(arch, blocks)
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(handle)
    try:
        writer = gguf.GGUFWriter(staging, gguf.MODEL_ARCH_NAMES[arch])
        writer.add_name(folder.name)
        writer.add_file_type(getattr(gguf.LlamaFileType, _FILE_TYPES[out_type]))
        _hyperparameters(writer, config)
        _tokenizer(writer, gguf, folder)
        tensors = _llama_tensors if kind == "llama" else _gpt2_tensors
        for name, data in tensors(config, folder):
            mapped = names.get_name(name, try_suffixes=(".weight", ".bias"))
            if mapped is None:
                raise ConfigError(f"{str(folder)!r}: no GGUF name for the tensor {name!r}")
            array, ggml_type = _typed(gguf, data, out_type)
            writer.add_tensor(mapped, array, raw_dtype=ggml_type)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staging, 0o666 & ~umask)  # as a plain open() would, not mkstemp's 0o600
        os.replace(staging, out)
    except OSError as exc:
        raise ConfigError(f"cannot write {str(out)!r}: {exc}") from None
    finally:
        if os.path.exists(staging):
            os.unlink(staging)
    return out


def export_trained(folder: Path, out_type: str = "f16") -> Path:
    """``export_gguf`` of a ``chatbench train`` output into the folder itself, as
    ``FOLDER/model-<out_type>.gguf``: serve it with ``gguf:FOLDER/model-<out_type>.gguf``.

    Raises:
        ConfigError: As ``export_gguf``.
        MissingDependencyError: As ``export_gguf``.
    """
    return export_gguf(folder, folder / f"model-{out_type}.gguf", out_type)


def requantize(source: Path, out: Path, out_type: str) -> Path:
    """Write a copy of the GGUF file ``source`` with its matrices as ``out_type`` (metadata
    kept; quantised tensors are dequantised first, so nothing is lost beyond ``out_type``'s
    own rounding). Replaces ``out`` atomically.

    Raises:
        ConfigError: An unknown ``out_type``, or a file that cannot be read or written.
        MissingDependencyError: The ``gguf`` package is not installed.
    """
    if out_type not in OUT_TYPES:
        raise ConfigError(f"GGUF weights must be one of {', '.join(OUT_TYPES)}, not {out_type!r}")
    gguf = _gguf()
    reader = gguf.GGUFReader(source)
    arch = str(reader.get_field(gguf.Keys.General.ARCHITECTURE).contents())
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(handle)
    try:
        writer = gguf.GGUFWriter(staging, arch)
        for field in reader.fields.values():
            if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
                continue  # written by the writer itself
            kind = field.types[0]
            sub = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
            value = field.contents()
            if field.name == gguf.Keys.General.FILE_TYPE:
                value = int(getattr(gguf.LlamaFileType, _FILE_TYPES[out_type]))
            writer.add_key_value(field.name, value, kind, sub_type=sub)
        for tensor in reader.tensors:
            data = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
            array, ggml_type = _typed(gguf, data.astype("float32"), out_type)
            writer.add_tensor(tensor.name, array, raw_dtype=ggml_type)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staging, 0o666 & ~umask)
        os.replace(staging, out)
    except OSError as exc:
        raise ConfigError(f"cannot write {str(out)!r}: {exc}") from None
    finally:
        if os.path.exists(staging):
            os.unlink(staging)
    return out
