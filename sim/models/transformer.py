"""A tiny causal transformer for the next-token experiments of Zhang et al. 2024 (spec
embeddings_embed 3.1, CPU sizing in 5 item 14), trained through the one training loop.

Inputs are discrete tokens (B, T) int64 in [0, vocab_size), or real values (B, T) / (B, T, k)
(the exchangeable Normal and Exponential families, and 2-D points for the rectangle game). The
output head predicts the next input: a categorical over the vocabulary (cross-entropy), or a
real value trained by MSE (the authors' choice for continuous data) or by a Gaussian
negative log-likelihood (the variant where Remark S says the variance must be encoded).

The "embedding" that probes read is the final layer's output at each position:
:meth:`CausalTransformer.embed`. Training runs in float32 (PERFORMANCE.md 2.3: float64 costs
x3 with no effect on the probes); embeddings are returned as float64.

Two architectures (``TransformerConfig.arch``):

``"gpt"``
    Learned positional embeddings, pre-LN blocks with causal ``scaled_dot_product_attention``
    and a GELU MLP, a final LayerNorm; GPT-2's N(0, 0.02) initialisation.
``"paper"``
    The authors' module (spec 3.1): the input embedding times sqrt(d_model) plus a
    sinusoidal positional encoding, PyTorch's ``nn.TransformerEncoder`` (post-LN, ReLU) under
    a causal mask, no final LayerNorm, and PyTorch's default initialisation (drawn from the
    model's generator). Dropout is 0 here (the authors': 0.1), so that a run is a function
    of its seed.
"""

from __future__ import annotations

import copy
import math
import operator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as nnf

from sim import errors, streams
from sim.errors import InputError, positive_int
from sim.train import History, OptimConfig, TrainConfig, optimizer_step, train

__all__ = ["CausalTransformer", "TransformerConfig", "TrainedTransformer", "train_transformer"]

INPUTS = ("tokens", "values")
HEADS = ("categorical", "mse", "gaussian")
INITS = ("gpt2", "torch")
ARCHS = ("gpt", "paper")
EMBED_SCORES = 2**27  # attention scores per layer in one embedding batch: 512 MB in float32
FLOAT32_MAX = float(np.finfo(np.float32).max)  # value inputs are cast to float32


@dataclass(frozen=True)
class TransformerConfig:
    """Sizes and the input/output kind. The defaults are the CPU-scale setting of spec 5.14."""

    input: str = "tokens"
    vocab_size: int = 2  # tokens only
    value_dim: int = 1  # values only: k, the width of each observation
    head: str = "categorical"
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    d_ff: int = 128
    max_len: int = 128
    arch: str = "gpt"

    def __post_init__(self):
        if self.arch not in ARCHS:
            raise InputError(f"arch must be one of {ARCHS}; got {self.arch!r}")
        if self.input not in INPUTS:
            raise InputError(f"input must be one of {INPUTS}; got {self.input!r}")
        if self.head not in HEADS:
            raise InputError(f"head must be one of {HEADS}; got {self.head!r}")
        if (self.input == "tokens") != (self.head == "categorical"):
            raise InputError(f"a {self.input!r} input needs "
                             f"{'a categorical' if self.input == 'tokens' else 'an mse or gaussian'} "
                             f"head; got {self.head!r}")
        for name in ("vocab_size", "value_dim", "d_model", "n_layers", "n_heads", "d_ff", "max_len"):
            positive_int(name, getattr(self, name))
        if self.input == "tokens" and self.vocab_size < 2:
            raise InputError(f"vocab_size must be >= 2; got {self.vocab_size}")
        if self.d_model % self.n_heads:
            raise InputError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")


class _Block(torch.nn.Module):
    def __init__(self, c: TransformerConfig):
        super().__init__()
        self.ln1, self.ln2 = torch.nn.LayerNorm(c.d_model), torch.nn.LayerNorm(c.d_model)
        self.qkv = torch.nn.Linear(c.d_model, 3 * c.d_model)
        self.proj = torch.nn.Linear(c.d_model, c.d_model)
        self.ff1, self.ff2 = torch.nn.Linear(c.d_model, c.d_ff), torch.nn.Linear(c.d_ff, c.d_model)
        self.n_heads = c.n_heads

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        B, T, D = h.shape
        q, k, v = self.qkv(self.ln1(h)).split(D, dim=-1)
        q, k, v = (z.view(B, T, self.n_heads, D // self.n_heads).transpose(1, 2) for z in (q, k, v))
        a = nnf.scaled_dot_product_attention(q, k, v, is_causal=True)
        h = h + self.proj(a.transpose(1, 2).reshape(B, T, D))
        return h + self.ff2(nnf.gelu(self.ff1(self.ln2(h))))


class CausalTransformer(torch.nn.Module):
    """Causal transformer over tokens or values; see the module docstring.

    ``init``: "gpt2" (N(0, 0.02) weights, zero biases) or "torch" (PyTorch's default
    initialisation of every layer); the default is the architecture's own ("gpt2" for
    ``arch="gpt"``, "torch" for ``arch="paper"``). All draws come from ``generator``.
    """

    def __init__(self, config: TransformerConfig, generator: torch.Generator | None = None,
                 init: str | None = None):
        super().__init__()
        errors.instance("config", config, TransformerConfig)
        errors.torch_generator("generator", generator)
        c = self.config = config
        init = init if init is not None else ("gpt2" if c.arch == "gpt" else "torch")
        if init not in INITS:
            raise InputError(f"init must be one of {INITS}; got {init!r}")
        if c.input == "tokens":
            self.inp = torch.nn.Embedding(c.vocab_size, c.d_model)
            out = c.vocab_size
        else:
            self.inp = torch.nn.Linear(c.value_dim, c.d_model)
            out = c.value_dim * (2 if c.head == "gaussian" else 1)  # mean (and log-variance)
        if c.arch == "gpt":
            self.pos = torch.nn.Embedding(c.max_len, c.d_model)
            self.blocks = torch.nn.ModuleList(_Block(c) for _ in range(c.n_layers))
            self.ln = torch.nn.LayerNorm(c.d_model)
        else:
            self.register_buffer("pos_code", _sinusoid(c.max_len, c.d_model), persistent=False)
            layer = torch.nn.TransformerEncoderLayer(c.d_model, c.n_heads, c.d_ff, dropout=0.0,
                                                     activation="relu", batch_first=True)
            self.encoder = torch.nn.TransformerEncoder(layer, c.n_layers, enable_nested_tensor=False)
        self.head = torch.nn.Linear(c.d_model, out)
        with torch.no_grad():
            if init == "torch":
                _torch_init(self, generator)
            else:
                _gpt2_init(self, generator)

    def inputs(self, x) -> torch.Tensor:
        """Validate a batch and return it as the model's input tensor."""
        c = self.config
        if torch.is_tensor(x) and x.dtype.is_complex:
            raise errors.InputTypeError(f"x must be real; got a complex tensor ({x.dtype})")
        if c.input == "tokens":
            if not torch.is_tensor(x):
                raw = np.asarray(x)
                if raw.dtype.kind not in "iubf":  # floats and bools are refused below, by name
                    raise errors.InputTypeError(f"token sequences must hold integer ids; got dtype {raw.dtype}")
                arr = torch.as_tensor(raw)
            else:
                arr = x
            if arr.dim() != 2:
                raise InputError(f"token sequences must be (B, T); got shape {tuple(arr.shape)}")
            if arr.dtype.is_floating_point or arr.dtype == torch.bool:
                raise InputError(f"token sequences must hold integer ids; got dtype {arr.dtype}")
            arr = arr.long()
            if arr.numel() and (arr.min() < 0 or arr.max() >= c.vocab_size):
                raise InputError(f"token ids must be in [0, {c.vocab_size}); got range "
                                 f"[{int(arr.min())}, {int(arr.max())}]")
        else:
            if torch.is_tensor(x):
                if x.dtype != torch.float32 and x.numel():  # a float32 batch (training) cannot overflow the cast
                    big = float(x.abs().max())
                    if math.isfinite(big) and big > FLOAT32_MAX:
                        raise InputError(f"value sequences hold entries of magnitude {big:.3g}, beyond "
                                         f"float32's range ({FLOAT32_MAX:.3g}); rescale them")
                arr = x.float()
            else:
                raw = errors.as_array("x", x, finite=False)
                if raw.size and np.isfinite(raw).all() and np.abs(raw).max() > FLOAT32_MAX:
                    raise InputError(f"value sequences hold entries of magnitude {np.abs(raw).max():.3g}, "
                                     f"beyond float32's range ({FLOAT32_MAX:.3g}); rescale them")
                arr = torch.as_tensor(raw.astype(np.float32))
            if arr.dim() == 2 and c.value_dim == 1:
                arr = arr[..., None]
            if arr.dim() != 3 or arr.shape[-1] != c.value_dim:
                raise InputError(f"value sequences must be (B, T) or (B, T, {c.value_dim}); got "
                                 f"shape {tuple(arr.shape)}")
            if not torch.isfinite(arr).all():
                raise InputError("value sequences hold NaN or infinite entries")
        if arr.shape[0] == 0:
            raise InputError(f"x holds no sequences (shape {tuple(arr.shape)}); a batch needs at least one")
        if arr.shape[1] < 1 or arr.shape[1] > c.max_len:
            raise InputError(f"sequence length must be in [1, {c.max_len}]; got {arr.shape[1]}")
        return arr

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        T = x.shape[1]
        if self.config.arch == "gpt":
            h = self.inp(x) + self.pos(torch.arange(T, device=x.device))
            for block in self.blocks:
                h = block(h)
            return self.ln(h)
        h = self.inp(x) * np.sqrt(self.config.d_model) + self.pos_code[:T]
        if self.training:
            return _train_mode_encoder(self.encoder, h)
        mask = torch.nn.Transformer.generate_square_subsequent_mask(T, device=x.device)
        return self.encoder(h, mask=mask, is_causal=True)

    def forward(self, x) -> torch.Tensor:
        return self.head(self.hidden(self.inputs(x)))

    def loss(self, x) -> torch.Tensor:
        """Mean next-observation loss: position t predicts x[:, t + 1]; a non-finite loss (the
        model's float32 arithmetic overflowed on x) is an InputError."""
        out = self._loss(x)
        if not bool(torch.isfinite(out)):
            big = max(float(p.detach().abs().max()) for p in self.parameters())
            raise InputError(f"the loss on x is {float(out.detach())!r}: the model's float32 arithmetic overflows "
                             f"(parameters up to {big:.3g} in magnitude); rescale the inputs")
        return out

    def _loss(self, x) -> torch.Tensor:
        """:meth:`loss` unchecked, for the training loop (a diverging run is stopped by the loop
        on its non-finite record, not raised as bad input)."""
        x = self.inputs(x)
        if x.shape[1] < 2:
            raise InputError("the next-token loss needs sequences of length >= 2")
        out = self.head(self.hidden(x[:, :-1]))
        target = x[:, 1:]
        if self.config.head == "categorical":
            return nnf.cross_entropy(out.reshape(-1, out.shape[-1]), target.reshape(-1))
        if self.config.head == "mse":
            return nnf.mse_loss(out, target)
        k = self.config.value_dim
        mean, log_var = out[..., :k], out[..., k:]
        return nnf.gaussian_nll_loss(mean, target, log_var.exp(), full=True)

    @torch.no_grad()
    def embed(self, x, *, batch_size: int | None = None, positions=None) -> np.ndarray:
        """Final-layer embeddings (B, T, d_model) as float64, in batches, without gradients.

        ``batch_size`` defaults to at most 512 sequences and at most ``EMBED_SCORES``
        attention scores per layer (batch x heads x T^2): 512 at T = 32, 67 at the paper
        scale's T = 499, where 512 sequences would hold 4 GB of scores. With ``positions``
        (integers in [-T, T)), only those positions are kept, (B, P, d_model): at the paper
        scale the full array of 4,000 sequences x 499 positions x 128 is 2 GB in float64,
        the few probed positions a few MB.
        """
        x = self.inputs(x)
        T = x.shape[1]
        if batch_size is None:
            batch_size = max(1, min(512, EMBED_SCORES // (self.config.n_heads * T * T)))
        batch_size = positive_int("batch_size", batch_size)
        keep = slice(None)
        if positions is not None:
            given = np.atleast_1d(positions).tolist()
            try:
                keep = [operator.index(p) for p in given if not isinstance(p, bool)]
            except TypeError:
                keep = []
            keep = keep if len(keep) == len(given) else []
            if not keep or any(not -T <= p < T for p in keep):
                raise InputError(f"positions must be non-empty integers in [-{T}, {T}) for "
                                 f"sequences of length {T}; got {given}")
        dev = self.head.weight.device
        parts = [self.hidden(x[i:i + batch_size].to(dev))[:, keep].cpu()
                 for i in range(0, x.shape[0], batch_size)]
        out = torch.cat(parts).double().numpy()
        if not np.isfinite(out).all():
            b = int(np.argwhere(~np.isfinite(out))[0][0])
            raise InputError(f"the embedding of sequence {b} of x is not finite: the model's float32 "
                             f"arithmetic overflows on it (inputs up to {float(x.abs().max()):.3g} in "
                             "magnitude); rescale the inputs")
        return out


def _train_mode_encoder(encoder: torch.nn.TransformerEncoder, h: torch.Tensor) -> torch.Tensor:
    """``encoder(h, mask=causal, is_causal=True)`` in training mode, bit for bit (tested):
    the operations of PyTorch's post-LN layer (ReLU, dropout 0, batch_first) in its order and
    layouts, except that q, k and v are views of the input projection taken by ``unbind``.
    PyTorch copies the projection into a (3, T, B, E) tensor and indexes it, so its backward
    zero-fills three tensors of that size, copies a slice into each and adds them; unbind's
    backward writes the three gradients once, into the projection's own layout. The values
    are the same (each gradient lands where the module's sum puts it); a training step of
    the CPU-scale model costs about 8% less. The layers' own ``forward`` is not called, so
    hooks registered on them run only in evaluation mode."""
    B, T, E = h.shape
    x = h
    for layer in encoder.layers:
        attn = layer.self_attn
        H = attn.num_heads
        # the module's layout: sequence-first rows (t, b), so every reduction over rows sums
        # in the module's order
        proj = nnf.linear(x.transpose(1, 0), attn.in_proj_weight, attn.in_proj_bias)  # (T, B, 3E)
        q, k, v = (z.permute(1, 2, 0, 3) for z in proj.view(T, B, 3, H, E // H).unbind(2))
        a = nnf.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, H, T, E / H)
        a = a.permute(2, 0, 1, 3).contiguous().view(T * B, E)
        a = nnf.linear(a, attn.out_proj.weight, attn.out_proj.bias).view(T, B, E).transpose(1, 0)
        x = layer.norm1(x + a)
        x = layer.norm2(x + layer.linear2(nnf.relu(layer.linear1(x))))
    return x


def _sinusoid(max_len: int, d: int) -> torch.Tensor:
    """The sinusoidal positional code of Vaswani et al. (the authors' PositionalEncoding)."""
    pos = torch.arange(max_len, dtype=torch.float64)[:, None]
    freq = torch.exp(torch.arange(0, d, 2, dtype=torch.float64) * (-np.log(10000.0) / d))
    code = torch.zeros(max_len, d, dtype=torch.float64)
    code[:, 0::2] = torch.sin(pos * freq)
    code[:, 1::2] = torch.cos(pos * freq)[:, : d // 2]
    return code.float()


def _gpt2_init(model: torch.nn.Module, generator) -> None:
    """GPT-2 style: N(0, 0.02) matrices, zero vectors, LayerNorm scales 1."""
    for p in model.parameters():
        if p.dim() > 1:
            torch.nn.init.normal_(p, 0.0, 0.02, generator=generator)
        else:
            p.zero_()
    for m in model.modules():
        if isinstance(m, torch.nn.LayerNorm):
            m.weight.fill_(1.0)


def _torch_init(model: torch.nn.Module, generator) -> None:
    """PyTorch's default initialisation of each layer, redrawn from ``generator``: Linear
    weight and bias uniform with bound 1/sqrt(fan_in) (kaiming_uniform with a = sqrt(5));
    Embedding N(0, 1); MultiheadAttention's input projection Xavier-uniform with zero bias and
    a zero output bias; LayerNorm (1, 0)."""
    for m in model.modules():
        if isinstance(m, torch.nn.Linear):
            bound = 1.0 / np.sqrt(m.in_features)
            torch.nn.init.uniform_(m.weight, -bound, bound, generator=generator)
            torch.nn.init.uniform_(m.bias, -bound, bound, generator=generator)
        elif isinstance(m, torch.nn.Embedding):
            torch.nn.init.normal_(m.weight, generator=generator)
        elif isinstance(m, torch.nn.LayerNorm):
            m.weight.fill_(1.0)
            m.bias.zero_()
    for m in model.modules():
        if isinstance(m, torch.nn.MultiheadAttention):
            torch.nn.init.xavier_uniform_(m.in_proj_weight, generator=generator)
            m.in_proj_bias.zero_()
            m.out_proj.bias.zero_()


@dataclass
class TrainedTransformer:
    """The trained ``model``, its loss ``history``, and ``initial``: the same network at its
    starting point (untrained; the random-initialisation control of a probing study)."""

    model: CausalTransformer
    history: History
    initial: CausalTransformer


def train_transformer(config: TransformerConfig, data, *, steps: int, batch_size: int = 64,
                      lr: float = 1e-3, seed: int, validation=None,
                      checkpoints_per_decade: int = 4, callbacks=(),
                      device: str | torch.device = "cpu") -> TrainedTransformer:
    """Adam on random minibatches of ``data`` (N, T[, k]) through the one training loop.

    Records the loss on a fixed batch of training sequences (the first ``batch_size``) and,
    if ``validation`` is given, the loss on it, at the checkpoints. Initialisation and batch
    order come from ``seed`` (drawn on the CPU, so a ``device="cuda"`` run of the paper-scale
    tier starts from the same weights and sees the same batches).
    """
    steps, batch_size = positive_int("steps", steps), positive_int("batch_size", batch_size)
    errors.positive_float("lr", lr)
    callbacks = errors.functions("callbacks", callbacks)
    device = _device(device)
    st = streams(seed)
    model = CausalTransformer(config, generator=st.torch("init"))
    initial = copy.deepcopy(model).eval()
    X = model.inputs(data)
    model.to(device)
    if X.shape[0] < batch_size:
        raise InputError(f"{X.shape[0]} training sequences are fewer than one batch of {batch_size}")
    Xv = model.inputs(validation).to(device) if validation is not None else None
    order = st.torch("batches")
    batch = {}

    def loss_fn() -> torch.Tensor:
        return model._loss(batch["x"])

    inner = optimizer_step(list(model.parameters()), OptimConfig("adam", lr), loss_fn=loss_fn)

    def step(t: int) -> None:
        batch["x"] = X[torch.randint(X.shape[0], (batch_size,), generator=order)].to(device)
        inner(t)

    monitor = X[:batch_size].to(device)  # a fixed training batch, so that records are comparable

    def record(t: int) -> dict:
        with torch.no_grad():
            rec = {"loss": float(model._loss(monitor))}
            if Xv is not None:
                rec["val_loss"] = float(model._loss(Xv))
        return rec

    history = train(step, TrainConfig(steps=steps, checkpoints_per_decade=checkpoints_per_decade),
                    record, callbacks)
    first = history.records[0]
    for key, name in (("loss", "data"), ("val_loss", "validation")):
        if key in first and not math.isfinite(first[key]):
            raise InputError(f"the initial model's {key} on {name} is {first[key]!r}: its float32 "
                             f"arithmetic overflows on these inputs; rescale {name}")
    model.eval()
    return TrainedTransformer(model=model, history=history, initial=initial)


def _device(device) -> torch.device:
    """``device`` as a torch.device that exists on this machine."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise errors.InputTypeError(f"device must name a torch device ('cpu', 'cuda', 'cuda:0'); got "
                                    f"{device!r}: {exc}") from None
    if dev.type == "cuda" and not (torch.cuda.is_available()
                                   and (dev.index is None or dev.index < torch.cuda.device_count())):
        raise InputError(f"device {str(dev)!r} is not available on this machine "
                         f"({torch.cuda.device_count()} CUDA devices)")
    return dev
