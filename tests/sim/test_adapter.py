"""The real-model adapter: on our own trained bilinear models (where the answer is known) it
reproduces the package's metrics; its permutation test and bad-input errors; the optional
Hugging Face path on a tiny random local model, and on a real one when the user has it."""

import os

import numpy as np
import pytest

from sim import streams
from sim.concepts.adapter import ConceptData, concept_geometry, from_concept_model
from sim.errors import InputError
from theorems.jiang2024.joint_training import joint_run

pytestmark = pytest.mark.heavy  # long tests: tests/conftest.py runs them first


@pytest.fixture(scope="module")
def trained():
    """Joint Adam, m = d = 6 (seed 1 fits: KL < 0.01), shared with the claim checks."""
    return joint_run(1, 6, 6, "adam")


def test_on_a_trained_bilinear_model_the_adapter_reproduces_the_package_metrics(trained):
    model, f, s = trained
    r = concept_geometry(f.G, from_concept_model(model, f.F, f.G), rng=np.random.default_rng(0))
    assert r.mean_alignment == pytest.approx(s["align"], rel=1e-12)
    assert np.mean(r.lin_g) == pytest.approx(s["lin_g_mean"], rel=1e-12)
    assert np.mean(r.lin_f) == pytest.approx(s["lin_f_mean"], rel=1e-12)
    assert r.details["mean_orthogonality"] == pytest.approx(s["orth_mean"], rel=1e-12)
    off = ~np.eye(6, dtype=bool)
    assert r.orthogonality_causal[off].max() == pytest.approx(s["orth_causal_max"], rel=1e-9)


def test_a_trained_model_is_aligned_beyond_every_re_pairing(trained):
    model, f, _ = trained
    r = concept_geometry(f.G, from_concept_model(model, f.F, f.G), rng=np.random.default_rng(0))
    assert r.exact_test and r.n_permutations == 720
    assert r.p_value == pytest.approx(1 / 720)  # the identity is the only pairing this good
    assert r.mean_alignment > 0.99 > r.mean_off_diagonal


def test_hidden_states_unrelated_to_the_concepts_are_not_aligned(trained):
    """Negative control: replace the context hidden states by noise, 20 draws. Under this
    null the exact p-value is uniform on {1/720, ..., 1}: its median sits near 1/2 and
    p < 0.01 has probability 7/720 per draw."""
    model, f, _ = trained
    runs = [concept_geometry(f.G, from_concept_model(model, streams(s).noise.standard_normal(f.F.shape),
                                                     f.G), rng=np.random.default_rng(0))
            for s in range(20)]
    p = np.array([r.p_value for r in runs])
    assert np.median(p) > 0.1
    assert np.mean(p < 0.01) <= 0.1  # 2 of 20 draws at most (expected about 0.2 draws)
    assert max(r.mean_alignment for r in runs) < 0.9


def test_with_many_concepts_the_permutation_test_samples_and_stays_valid():
    rng = np.random.default_rng(3)
    c, d, V = 10, 16, 40
    gamma = rng.standard_normal((V, d))
    concepts = {}
    for i in range(c):
        pairs = rng.choice(V, size=(3, 2), replace=False)
        g = (gamma[pairs[:, 1]] - gamma[pairs[:, 0]]).mean(0)
        h0 = rng.standard_normal((4, d))
        concepts[f"c{i}"] = ConceptData(pairs, h0, h0 + g + 0.05 * rng.standard_normal((4, d)))
    r = concept_geometry(gamma, concepts, rng=np.random.default_rng(0), n_permutations=2000)
    assert not r.exact_test and r.n_permutations == 2000
    assert r.p_value == pytest.approx(1 / 2001)
    assert r.mean_alignment > r.random_pair_baseline


def test_scaling_every_hidden_state_changes_nothing(trained):
    model, f, _ = trained
    a = concept_geometry(f.G, from_concept_model(model, f.F, f.G), rng=np.random.default_rng(0))
    b = concept_geometry(f.G, from_concept_model(model, 3.0 * f.F, f.G), rng=np.random.default_rng(0))
    np.testing.assert_allclose(a.alignment, b.alignment, rtol=0, atol=1e-12)


def _two(V=5, d=3):
    h = np.zeros((2, d))
    return {"a": ConceptData(np.array([[0, 1]]), h, h + 1.0), "b": ConceptData(np.array([[2, 3]]), h, h - 1.0)}


@pytest.mark.parametrize("mutate, message", [
    (lambda c: c.update(a=ConceptData(np.array([[0, 9]]), c["a"].h0, c["a"].h1)), "outside the vocabulary"),
    (lambda c: c.update(a=ConceptData(np.array([0, 1]), c["a"].h0, c["a"].h1)), r"\(k, 2\)"),
    (lambda c: c.update(a=ConceptData(np.array([[0.0, 1.0]]), c["a"].h0, c["a"].h1)), "integer token ids"),
    (lambda c: c.update(a=ConceptData(np.array([[0, 1]]), np.zeros((2, 3)), np.zeros((3, 3)))), "row by row"),
    (lambda c: c.update(a=ConceptData(np.array([[0, 1]]), np.zeros((2, 4)), np.zeros((2, 4)))), "width 4"),
    (lambda c: c.pop("b"), "at least 2 concepts"),
    (lambda c: c.update(a=((0, 1),)), "ConceptData"),
])
def test_bad_input_is_refused_with_a_message_naming_the_problem(mutate, message):
    concepts = _two()
    mutate(concepts)
    with pytest.raises(InputError, match=message):
        concept_geometry(np.eye(5, 3), concepts, rng=np.random.default_rng(0))


def test_a_non_generator_rng_and_nan_unembeddings_are_refused():
    with pytest.raises(InputError, match="Generator"):
        concept_geometry(np.eye(5, 3), _two(), rng=0)
    bad = np.eye(5, 3)
    bad[1, 1] = np.nan
    with pytest.raises(InputError):
        concept_geometry(bad, _two(), rng=np.random.default_rng(0))


# --- the optional Hugging Face path ---------------------------------------------------------------

def _tiny_local_lm(folder):
    """A randomly initialised one-layer GPT-2 with a word-level tokenizer, saved to disk."""
    transformers = pytest.importorskip("transformers")
    tokenizers = pytest.importorskip("tokenizers")
    from sim.concepts.hf import DEFAULT_CONCEPTS
    words = sorted({w for pairs in DEFAULT_CONCEPTS.values() for p in pairs for w in p})
    vocab = {"[UNK]": 0, **{w: i + 1 for i, w in enumerate(words)}}
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]")
    torch_seed = 0
    import torch
    torch.manual_seed(torch_seed)
    config = transformers.GPT2Config(vocab_size=len(vocab), n_positions=16, n_embd=16, n_layer=1,
                                     n_head=2)
    transformers.GPT2LMHeadModel(config).save_pretrained(folder)
    fast.save_pretrained(folder)
    return transformers


def test_the_hugging_face_path_reads_a_local_model_and_feeds_the_adapter(tmp_path):
    transformers = _tiny_local_lm(tmp_path)
    from sim.concepts.hf import concept_data_from_causal_lm, measure_causal_lm
    r, skipped = measure_causal_lm(tmp_path, rng=np.random.default_rng(0))
    assert len(r.names) == 6 and r.exact_test and all(not s for s in skipped.values())
    model = transformers.AutoModelForCausalLM.from_pretrained(tmp_path, local_files_only=True).eval()
    tok = transformers.AutoTokenizer.from_pretrained(tmp_path, local_files_only=True)
    gamma, data, _ = concept_data_from_causal_lm(model, tok, {"x": [("he", "she")], "y": [("cat", "cats")]})
    np.testing.assert_array_equal(gamma, model.lm_head.weight.detach().double().numpy())
    import torch
    with torch.no_grad():
        ids = tok("he", return_tensors="pt")
        logits = model(**ids).logits[0, -1].double().numpy()
    # the hidden state is what the output layer reads: its logits are gamma @ lambda
    np.testing.assert_allclose(gamma @ data["x"].h0[0], logits, rtol=1e-5, atol=1e-5)


def test_a_missing_model_directory_is_refused(tmp_path):
    pytest.importorskip("transformers")
    from sim.concepts.hf import measure_causal_lm
    with pytest.raises(InputError, match="does not exist"):
        measure_causal_lm(tmp_path / "nowhere", rng=np.random.default_rng(0))


def test_word_pair_files_are_read_and_malformed_lines_named(tmp_path):
    from sim.concepts.hf import read_word_pairs
    (tmp_path / "ok.txt").write_text("he she\nking\tqueen\n\n", encoding="utf-8")
    assert read_word_pairs(tmp_path / "ok.txt") == [("he", "she"), ("king", "queen")]
    (tmp_path / "bad.txt").write_text("he she\nking\n", encoding="utf-8")
    with pytest.raises(InputError, match="bad.txt:2"):
        read_word_pairs(tmp_path / "bad.txt")


@pytest.mark.slow
def test_a_real_causal_lm_aligns_embedding_and_unembedding_concept_directions():
    """Spec claim 23 (optional): set REPRESENTATION_THEOREMS_HF_MODEL to a local model folder
    (e.g. LLaMA-2-7B or GPT-2) and run with --runslow."""
    path = os.environ.get("REPRESENTATION_THEOREMS_HF_MODEL")
    if not path:
        pytest.skip("no local causal LM: set REPRESENTATION_THEOREMS_HF_MODEL to a model folder")
    pytest.importorskip("transformers")
    from sim.concepts.hf import measure_causal_lm
    r, _ = measure_causal_lm(path, rng=np.random.default_rng(0))
    assert r.mean_alignment > r.mean_off_diagonal
    assert r.mean_alignment > r.random_pair_baseline
    assert r.p_value < 0.01  # spec claim 23: one-sided permutation test
