"""Feed the concept-geometry adapter from a local Hugging Face causal language model.

Optional: needs ``transformers`` (not a dependency of this package) and a model already on
disk; nothing is downloaded (``local_files_only=True``). The protocol (spec linear_origins
4.5, a reconstruction of the paper's LLaMA-2 check, not its exact code):

* a concept is a list of word pairs (w0, w1) that differ only in the concept (Park et al.
  2023's counterfactual pairs, e.g. ``male - female``); a pair is kept only when both words,
  with a leading space, are single tokens;
* token pairs: those token ids; the unembedding: the output layer's weight (V, d);
* context pairs: the context is ``template.format(w)`` (by default the word alone) and
  lambda(x) is the last layer's hidden state at its last position, as fed to the output
  layer.
"""

from __future__ import annotations

import os
from pathlib import Path
from collections.abc import Mapping
from typing import Sequence

import numpy as np
import torch

from sim.concepts.adapter import ConceptData, ConceptGeometry, concept_geometry
from sim import errors
from sim.errors import InputError

__all__ = ["DEFAULT_CONCEPTS", "concept_data_from_causal_lm", "measure_causal_lm", "read_word_pairs"]

# A small illustrative set (six concepts, so that an exact permutation test can reach
# p = 1/720 < 0.01); for the paper-scale check pass Park et al.'s word_pairs files instead.
DEFAULT_CONCEPTS: dict[str, list[tuple[str, str]]] = {
    "male - female": [("he", "she"), ("man", "woman"), ("king", "queen"), ("boy", "girl"),
                      ("father", "mother"), ("son", "daughter"), ("brother", "sister")],
    "noun - plural": [("cat", "cats"), ("dog", "dogs"), ("car", "cars"), ("book", "books"),
                      ("house", "houses"), ("tree", "trees"), ("bird", "birds")],
    "verb - past": [("walk", "walked"), ("play", "played"), ("work", "worked"),
                    ("talk", "talked"), ("jump", "jumped"), ("call", "called")],
    "adjective - comparative": [("small", "smaller"), ("big", "bigger"), ("old", "older"),
                                ("young", "younger"), ("fast", "faster"), ("long", "longer")],
    "lower - upper": [("the", "The"), ("we", "We"), ("it", "It"), ("this", "This"),
                      ("they", "They"), ("you", "You")],
    "country - capital": [("France", "Paris"), ("Germany", "Berlin"), ("Japan", "Tokyo"),
                          ("Italy", "Rome"), ("Spain", "Madrid"), ("Russia", "Moscow")],
}


def read_word_pairs(path) -> list[tuple[str, str]]:
    """Word pairs from a text file with two whitespace-separated columns per line."""
    errors.instance("path", path, (str, os.PathLike))
    pairs = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        cols = line.split()
        if len(cols) != 2:
            raise InputError(f"{path}:{n}: expected two words, got {len(cols)}: {line!r}")
        pairs.append((cols[0], cols[1]))
    return pairs


def _single_token(tokenizer, word: str) -> int | None:
    ids = tokenizer.encode(" " + word, add_special_tokens=False)
    return ids[0] if len(ids) == 1 else None


def concept_data_from_causal_lm(model, tokenizer, concepts: Mapping[str, Sequence[tuple[str, str]]],
                                *, template: str = "{}") -> tuple[np.ndarray, dict, dict]:
    """(unembedding (V, d) float64, {name: ConceptData}, {name: skipped pairs})."""
    _check_request(concepts, template)
    if "{}" not in template:
        raise InputError(f"template must contain '{{}}' where the word goes; got {template!r}")
    out_layer = model.get_output_embeddings()
    if out_layer is None:
        raise InputError("the model has no output embedding (unembedding) layer")
    gamma = out_layer.weight.detach().to(torch.float64).cpu().numpy()

    def hidden(text: str) -> np.ndarray:
        enc = tokenizer(text, return_tensors="pt")
        with torch.no_grad():
            hs = model(**enc, output_hidden_states=True).hidden_states[-1]
        return hs[0, -1].to(torch.float64).cpu().numpy()

    data, skipped = {}, {}
    for name, pairs in concepts.items():
        ids, h0, h1, skip = [], [], [], []
        for w0, w1 in pairs:
            t0, t1 = _single_token(tokenizer, w0), _single_token(tokenizer, w1)
            if t0 is None or t1 is None:
                skip.append((w0, w1))
                continue
            ids.append((t0, t1))
            h0.append(hidden(template.format(w0)))
            h1.append(hidden(template.format(w1)))
        if not ids:
            raise InputError(f"concept {name!r}: no pair has two single-token words for this tokenizer")
        data[name] = ConceptData(np.array(ids, dtype=np.int64), np.array(h0), np.array(h1))
        skipped[name] = skip
    return gamma, data, skipped


def _check_request(concepts, template) -> None:
    errors.instance("template", template, str)
    errors.instance("concepts", concepts, Mapping)
    for name, pairs in concepts.items():
        for k, pair in enumerate(errors.sequence(f"concepts[{name!r}]", pairs)):
            if isinstance(pair, str) or len(errors.sequence(f"concepts[{name!r}][{k}]", pair)) != 2 \
                    or not all(isinstance(w, str) for w in pair):
                raise errors.InputTypeError(f"concepts[{name!r}][{k}] must be a pair of words (w0, w1); "
                                            f"got {pair!r}")


def measure_causal_lm(model_dir, concepts: Mapping[str, Sequence[tuple[str, str]]] | None = None,
                      *, rng: np.random.Generator, template: str = "{}") -> tuple[ConceptGeometry, dict]:
    """Load a local causal LM (no download) and measure its concept geometry.

    Returns the :class:`ConceptGeometry` and the pairs skipped per concept.
    """
    errors.generator("rng", rng)
    _check_request(concepts or DEFAULT_CONCEPTS, template)
    errors.instance("model_dir", model_dir, (str, os.PathLike))
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise InputError("measure_causal_lm needs the optional 'transformers' package") from exc
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise InputError(f"model directory {model_dir} does not exist (nothing is downloaded)")
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True).eval()
    gamma, data, skipped = concept_data_from_causal_lm(model, tokenizer, concepts or DEFAULT_CONCEPTS,
                                                       template=template)
    return concept_geometry(gamma, data, rng=rng), skipped
