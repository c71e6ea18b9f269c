"""The tiny causal transformer: causality, the three heads, training through the one loop,
reproducibility, and bad input."""

import math

import numpy as np
import pytest
import torch

from sim.errors import InputError
from sim.models.transformer import CausalTransformer, TransformerConfig, train_transformer

TINY = dict(d_model=16, n_layers=1, n_heads=2, d_ff=32, max_len=16)


def _model(**kw):
    return CausalTransformer(TransformerConfig(**{**TINY, **kw}), generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("kw", [dict(input="tokens", vocab_size=5),
                                dict(input="values", value_dim=2, head="mse"),
                                dict(input="tokens", vocab_size=5, arch="paper"),
                                dict(input="values", value_dim=2, head="mse", arch="paper")])
def test_an_embedding_never_depends_on_later_positions(kw):
    model = _model(**kw)
    rng = np.random.default_rng(0)
    if kw["input"] == "tokens":
        x = rng.integers(0, 5, size=(3, 10))
        y = x.copy()
        y[:, 6:] = (y[:, 6:] + 1) % 5
    else:
        x = rng.standard_normal((3, 10, 2))
        y = x.copy()
        y[:, 6:] += 1.0
    ex, ey = model.embed(x), model.embed(y)
    np.testing.assert_array_equal(ex[:, :6], ey[:, :6])
    assert np.abs(ex[:, 6:] - ey[:, 6:]).max() > 1e-6


def test_embeddings_are_float64_and_batching_does_not_change_them():
    model = _model(vocab_size=4)
    x = np.random.default_rng(1).integers(0, 4, size=(7, 12))
    full = model.embed(x)
    assert full.dtype == np.float64 and full.shape == (7, 12, 16)
    np.testing.assert_allclose(model.embed(x, batch_size=3), full, rtol=0, atol=1e-6)
    kept = model.embed(x, batch_size=3, positions=[-1, 0, 9])  # only the probed positions
    assert kept.shape == (7, 3, 16)
    np.testing.assert_allclose(kept, full[:, [-1, 0, 9]], rtol=0, atol=1e-6)


def test_the_default_embedding_batch_bounds_the_attention_scores(monkeypatch):
    from sim.models import transformer

    model = _model(vocab_size=4)
    x = np.random.default_rng(3).integers(0, 4, size=(7, 12))
    full = model.embed(x, batch_size=512)
    # room for the scores of 3 sequences of 12 tokens: batches of 3, 3 and 1
    monkeypatch.setattr(transformer, "EMBED_SCORES", 3 * model.config.n_heads * 12 * 12)
    sizes, real = [], model.hidden
    monkeypatch.setattr(model, "hidden", lambda xb: sizes.append(len(xb)) or real(xb))
    np.testing.assert_allclose(model.embed(x), full, rtol=0, atol=1e-6)
    assert sizes == [3, 3, 1]


@pytest.mark.parametrize("positions", [[12], [-13], [], [1.5], [True]])
def test_embedding_positions_outside_the_sequence_are_refused(positions):
    x = np.zeros((2, 12), dtype=np.int64)
    with pytest.raises(InputError, match=r"positions must be .* \[-12, 12\)"):
        _model(vocab_size=4).embed(x, positions=positions)


def test_the_gaussian_head_loss_is_the_gaussian_negative_log_likelihood():
    model = _model(input="values", head="gaussian")
    x = torch.as_tensor(np.random.default_rng(2).standard_normal((4, 8)), dtype=torch.float32)
    with torch.no_grad():
        out = model(x[:, :-1])
        mean, log_var = out[..., :1], out[..., 1:]
        t = x[:, 1:, None]
        manual = 0.5 * (log_var + (t - mean) ** 2 / log_var.exp() + math.log(2 * math.pi))
        assert float(model.loss(x)) == pytest.approx(float(manual.mean()), rel=1e-5)


def test_training_learns_a_deterministic_pattern_and_records_the_losses():
    x = np.tile([0, 1, 2], (256, 5))[:, :15]  # 0 1 2 0 1 2 ...: next token is a function of the last
    val = x[:32]
    tr = train_transformer(TransformerConfig(vocab_size=3, **TINY), x, steps=200, batch_size=32,
                           lr=1e-2, seed=0, validation=val)
    first, last = tr.history.records[0], tr.history.records[-1]
    assert first["loss"] == pytest.approx(math.log(3), abs=0.05)  # uniform at initialisation
    assert last["loss"] < 0.05 and last["val_loss"] < 0.05
    assert tr.history.steps[-1] == 200


def test_the_same_seed_gives_the_same_model():
    x = np.random.default_rng(3).integers(0, 4, size=(64, 10))
    cfg = TransformerConfig(vocab_size=4, **TINY)
    a = train_transformer(cfg, x, steps=5, batch_size=8, seed=4).model
    b = train_transformer(cfg, x, steps=5, batch_size=8, seed=4).model
    c = train_transformer(cfg, x, steps=5, batch_size=8, seed=5).model
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert any(not torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters()))


@pytest.mark.parametrize("kw, message", [
    (dict(input="images"), "input must be one of"),
    (dict(head="poisson"), "head must be one of"),
    (dict(input="values", head="categorical"), "needs an mse or gaussian head"),
    (dict(input="tokens", head="mse"), "needs a categorical head"),
    (dict(d_model=10, n_heads=4), "divisible"),
    (dict(n_layers=0), "n_layers"),
    (dict(vocab_size=1), "vocab_size"),
    (dict(arch="bert"), "arch must be one of"),
])
def test_impossible_configurations_are_refused(kw, message):
    with pytest.raises(InputError, match=message):
        TransformerConfig(**kw)


@pytest.mark.parametrize("x, message", [
    (np.zeros((2, 3, 1), dtype=np.int64), r"\(B, T\)"),
    (np.zeros((2, 3)), "integer ids"),
    (np.full((2, 3), 7), r"\[0, 4\)"),
    (np.zeros((2, 17), dtype=np.int64), "length must be in"),
])
def test_bad_token_batches_are_refused(x, message):
    with pytest.raises(InputError, match=message):
        _model(vocab_size=4).embed(x)


def test_bad_value_batches_are_refused():
    model = _model(input="values", value_dim=2, head="mse")
    with pytest.raises(InputError, match=r"\(B, T, 2\)"):
        model.embed(np.zeros((2, 3)))
    bad = np.zeros((2, 3, 2))
    bad[1, 1, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        model.embed(bad)


def test_training_needs_a_batch_of_sequences_longer_than_one():
    cfg = TransformerConfig(vocab_size=3, **TINY)
    with pytest.raises(InputError, match="fewer than one batch"):
        train_transformer(cfg, np.zeros((4, 5), dtype=np.int64), steps=1, batch_size=8, seed=0)
    with pytest.raises(InputError, match="length >= 2"):
        train_transformer(cfg, np.zeros((8, 1), dtype=np.int64), steps=1, batch_size=8, seed=0)


def test_the_paper_architecture_is_pytorchs_encoder_with_the_authors_input_scaling():
    """arch="paper": the parameter count of spec 3.1 (99,584 per layer at d 128, ff 128) and
    the first layer's input equal to sqrt(d) x embedding + the sinusoidal code."""
    cfg = TransformerConfig(input="values", head="mse", d_model=128, n_layers=3, n_heads=8,
                            d_ff=128, max_len=500, arch="paper")
    model = CausalTransformer(cfg, generator=torch.Generator().manual_seed(0)).eval()  # the module's forward
    assert sum(p.numel() for p in model.encoder.parameters()) == 3 * 99_584
    code = model.pos_code
    assert torch.allclose(code[3, 0::2], torch.sin(3 * torch.exp(-torch.arange(0, 128, 2) * math.log(1e4) / 128)),
                          atol=1e-6)
    seen = {}
    model.encoder.layers[0].register_forward_pre_hook(lambda m, a: seen.setdefault("h", a[0]))
    x = torch.as_tensor(np.random.default_rng(0).standard_normal((2, 5)), dtype=torch.float32)
    model.embed(x)
    expected = model.inp(x[..., None]) * math.sqrt(128) + code[:5]
    assert torch.allclose(seen["h"], expected, atol=1e-5)


@torch.no_grad()
def test_the_torch_initialisation_draws_pytorchs_default_scales_from_the_generator():
    cfg = TransformerConfig(vocab_size=5, d_model=64, n_layers=1, n_heads=4, d_ff=64, max_len=8)
    gpt = CausalTransformer(cfg, generator=torch.Generator().manual_seed(0))
    tor = CausalTransformer(cfg, generator=torch.Generator().manual_seed(0), init="torch")
    again = CausalTransformer(cfg, generator=torch.Generator().manual_seed(0), init="torch")
    assert float(gpt.inp.weight.std()) == pytest.approx(0.02, rel=0.2)
    assert float(tor.inp.weight.std()) == pytest.approx(1.0, rel=0.2)  # nn.Embedding: N(0, 1)
    ff = tor.blocks[0].ff1.weight
    assert float(ff.abs().max()) <= 1 / math.sqrt(64) and float(ff.std()) == pytest.approx(
        1 / math.sqrt(3 * 64), rel=0.1)  # uniform(-1/sqrt(fan_in), 1/sqrt(fan_in))
    for a, b in zip(tor.parameters(), again.parameters()):
        assert torch.equal(a, b)
    paper = CausalTransformer(TransformerConfig(vocab_size=5, d_model=64, n_layers=1, n_heads=4,
                                                d_ff=64, max_len=8, arch="paper"),
                              generator=torch.Generator().manual_seed(0))
    attn = paper.encoder.layers[0].self_attn
    assert float(attn.in_proj_bias.abs().max()) == 0.0  # MultiheadAttention's own defaults
    assert float(attn.in_proj_weight.abs().max()) <= math.sqrt(6 / (64 + 192))
    with pytest.raises(InputError, match="init must be one of"):
        CausalTransformer(cfg, init="xavier")


def test_training_starts_from_the_model_its_seed_initialises():
    """The random-init control of the encoding claims is the trained model's start: the
    same seed's "init" stream gives the same weights, and training moves them."""
    from sim import streams

    cfg = TransformerConfig(vocab_size=4, **{**TINY, "arch": "paper"})
    x = np.random.default_rng(3).integers(0, 4, size=(64, 10))
    start = CausalTransformer(cfg, generator=streams(7).torch("init"))
    zero = train_transformer(cfg, x, steps=1, batch_size=8, lr=1e-12, seed=7).model
    for a, b in zip(start.parameters(), zero.parameters()):
        assert torch.allclose(a, b, atol=1e-9)


@pytest.mark.parametrize("kw", [dict(input="tokens", vocab_size=5, head="categorical"),
                                dict(input="values", value_dim=2, head="gaussian")])
def test_the_paper_architectures_training_forward_is_the_modules_bit_for_bit(kw):
    """In training mode arch="paper" computes the encoder with its own q/k/v split
    (sim.models.transformer._train_mode_encoder); outputs, every gradient and the weights
    after Adam steps must equal PyTorch's nn.TransformerEncoder(h, mask, is_causal=True)
    exactly, at the CPU scale's shape (d 32, 2 heads, 2 layers, T 33, batch 64)."""
    cfg = TransformerConfig(d_model=32, n_layers=2, n_heads=2, d_ff=64, max_len=40, arch="paper", **kw)
    ours = CausalTransformer(cfg, generator=torch.Generator().manual_seed(0)).train()
    module = CausalTransformer(cfg, generator=torch.Generator().manual_seed(0)).train()
    mask = torch.nn.Transformer.generate_square_subsequent_mask(32)

    def module_hidden(x):  # the module's own forward, the model's other layers unchanged
        h = module.inp(x) * np.sqrt(cfg.d_model) + module.pos_code[: x.shape[1]]
        return module.encoder(h, mask=mask, is_causal=True)

    module.hidden = module_hidden
    opt = [torch.optim.Adam(m.parameters(), lr=1e-2) for m in (ours, module)]
    rng = np.random.default_rng(0)
    for step in range(5):
        x = (rng.integers(0, 5, size=(64, 33)) if kw["input"] == "tokens"
             else rng.standard_normal((64, 33, 2)).astype(np.float32))
        losses = []
        for m, o in zip((ours, module), opt):
            o.zero_grad()
            loss = m.loss(x)
            loss.backward()
            losses.append(loss.detach())
        assert torch.equal(losses[0], losses[1]), step
        for (name, a), b in zip(ours.named_parameters(), module.parameters()):
            assert torch.equal(a.grad, b.grad), (step, name)
        for o in opt:
            o.step()
    for a, b in zip(ours.parameters(), module.parameters()):
        assert torch.equal(a, b)
