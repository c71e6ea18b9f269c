"""The bilinear next-token model p_hat(y | x) = softmax_y(f(x)^T g(y)) (Jiang et al. 2024).

Embeddings F (|X|, d) are a free table or fixed (e.g. F = S A^T); unembeddings G (|Y|, d)
are a free table. Trained on the exact population cross-entropy
L = sum_x pi(x) sum_y P[x, y] (-log p_hat(y | x)) with pi uniform over the context set,
full batch, through the one training loop (:func:`sim.train.train`), in float64.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import torch

from sim import errors, streams
from sim._npz import save_npz
from sim.errors import InputError
from sim.train import History, OptimConfig, TrainConfig, optimizer_step, train


class Bilinear(torch.nn.Module):
    """Logits F G^T with trainable G and trainable or fixed F (float64)."""

    def __init__(self, n_contexts: int, n_tokens: int, d: int, *, F=None,
                 init_scale: float = 1e-3, generator: torch.Generator | None = None):
        super().__init__()
        n_contexts = errors.positive_int("n_contexts", n_contexts)
        n_tokens = errors.positive_int("n_tokens", n_tokens)
        d = errors.positive_int("d", d)
        errors.positive_float("init_scale", init_scale)
        errors.torch_generator("generator", generator)
        kw = {"dtype": torch.float64, "generator": generator}
        self.G = torch.nn.Parameter(init_scale * torch.randn(n_tokens, d, **kw))
        if F is None:
            self.F = torch.nn.Parameter(init_scale * torch.randn(n_contexts, d, **kw))
        else:
            F = errors.as_matrix("F", F)
            if F.shape != (n_contexts, d):
                raise InputError(f"fixed F has shape {F.shape}; expected ({n_contexts}, {d})")
            self.register_buffer("F", torch.from_numpy(F.copy()))
        with torch.no_grad():
            finite = bool(torch.isfinite(self.logits()).all())
        if not finite:
            raise InputError(f"init_scale = {init_scale!r} (with F of magnitude up to "
                             f"{float(self.F.detach().abs().max()):.3g}) makes the initial logits F G^T overflow "
                             "float64; lower init_scale or rescale F")

    def logits(self) -> torch.Tensor:
        return self.F @ self.G.T  # (|X|, |Y|)


REDUCTIONS = ("mean", "sum")


def population_loss(logits: torch.Tensor, P: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """The cross-entropy sum_y P[x, y] (-log softmax(logits)[x, y]), averaged over contexts
    (pi uniform, spec 1.2) or summed over them (the same loss scaled by |X|)."""
    if reduction not in REDUCTIONS:
        raise InputError(f"reduction must be one of {REDUCTIONS}; got {reduction!r}")
    _check_table("logits", logits, P)
    logq = torch.log_softmax(logits, dim=1)
    per_context = -(P * torch.where(P > 0, logq, torch.zeros_like(logq))).sum(1)
    return per_context.mean() if reduction == "mean" else per_context.sum()


def _check_table(name: str, logits, P) -> None:
    """logits and P: floating torch tensors of one shape (|X|, |Y|)."""
    for what, t in ((name, logits), ("P", P)):
        if not (isinstance(t, torch.Tensor) and t.dtype.is_floating_point):
            raise errors.InputTypeError(f"{what} must be a floating-point torch.Tensor; got "
                                        f"{type(t).__name__}{' of dtype ' + str(t.dtype) if isinstance(t, torch.Tensor) else ''}")
    if logits.dim() != 2 or logits.shape != P.shape:
        raise InputError(f"{name} {tuple(logits.shape)} and P {tuple(P.shape)} must be (|X|, |Y|) tables "
                         "of one shape")


def gradients(net: Bilinear, P: torch.Tensor, reduction: str = "mean") -> list[torch.Tensor]:
    """Closed-form gradients of :func:`population_loss`, in ``net.parameters()`` order.

    With R = softmax(F G^T) - P (rows of P sum to 1), divided by |X| for the mean:
    dL/dG = R^T F, dL/dF = R G. Autograd gives the same (tested) at a fraction of the cost
    on models this small.
    """
    errors.instance("net", net, Bilinear)
    if reduction not in REDUCTIONS:
        raise InputError(f"reduction must be one of {REDUCTIONS}; got {reduction!r}")
    with torch.no_grad():
        _check_table("logits", net.logits(), P)
    return _gradient_fn(net, P, reduction)()


def _gradient_fn(net: Bilinear, P: torch.Tensor, reduction: str):
    """The closed-form gradients as a function of no arguments, for one training step each:
    what does not change between steps (the parameters' order, whether F is free) is
    settled once. dL/dG is formed as (F^T R)^T: the same sums as R^T F, and the product
    with the long dimension inside is the faster one on these tall tables."""
    F, G = net.F, net.G
    free = isinstance(F, torch.nn.Parameter)
    order = [name for name, _ in net.named_parameters()]  # G, and F when it is free
    n = P.shape[0] if reduction == "mean" else None

    def grads() -> list[torch.Tensor]:
        with torch.no_grad():
            R = torch.softmax(F @ G.T, dim=1).sub_(P)  # (|X|, |Y|)
            if n is not None:
                R.div_(n)
            out = {"G": (F.T @ R).T}
            if free:
                out["F"] = R @ G
        return [out[name] for name in order]

    return grads


@dataclass
class Fit:
    """A trained bilinear model: final F, G (numpy float64) and the history of records."""

    F: np.ndarray
    G: np.ndarray
    history: History

    def save(self, path) -> None:
        """Write the fit to the file ``path`` (an ``.npz`` archive, whatever its name) that
        :meth:`load` reads back: F and G bit for bit, the history's steps, records (plain
        numbers, as float), stop reason and seconds."""
        h = self.history
        meta = {"steps": [int(t) for t in h.steps], "stop_reason": h.stop_reason,
                "seconds": float(h.seconds),
                "records": [{k: float(v) for k, v in r.items()} for r in h.records]}
        save_npz(path, F=self.F, G=self.G, history=np.array(json.dumps(meta)))

    @classmethod
    def load(cls, path) -> "Fit":
        """The fit :meth:`save` wrote to ``path``; no pickles are read."""
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["history"]))
            F, G = z["F"], z["G"]
        return cls(F, G, History(steps=meta["steps"], records=meta["records"],
                                 stop_reason=meta["stop_reason"], seconds=meta["seconds"]))


def fit(model, *, d: int, optim: OptimConfig, steps: int, seed: int, F=None,
        init_scale: float = 1e-3, reduction: str = "mean", observe=None, callbacks=(),
        checkpoints_per_decade: int = 10, extra_checkpoints: tuple[int, ...] = ()) -> Fit:
    """Train a :class:`Bilinear` on the exact table of ``model`` (a ConceptModel).

    ``reduction`` chooses the mean over contexts (the population loss) or the sum (the
    same loss times |X|: a step size lr on the sum is lr * |X| on the mean).
    ``observe(F, G) -> dict`` is called at the checkpoints on numpy copies (default: the
    loss only); ``callbacks`` may stop the run (see :func:`sim.train.train`).
    """
    from sim.concepts.structure import ConceptModel  # sim.concepts does not import the models

    if reduction not in REDUCTIONS:
        raise InputError(f"reduction must be one of {REDUCTIONS}; got {reduction!r}")
    errors.instance("model", model, ConceptModel)
    errors.instance("optim", optim, OptimConfig)
    if observe is not None:
        errors.function("observe", observe)
    P = torch.from_numpy(model.table)
    net = Bilinear(P.shape[0], P.shape[1], d, F=F, init_scale=init_scale,
                   generator=streams(seed).torch("init"))
    params = list(net.parameters())  # G, and F when it is free

    def loss_fn() -> torch.Tensor:
        return population_loss(net.logits(), P, reduction)

    step = optimizer_step(params, optim, grad_fn=_gradient_fn(net, P, reduction))

    observed: list[str] = []  # the keys observe returned, to fill with NaN once training diverges

    def record(t: int) -> dict:
        with torch.no_grad():
            rec = {"loss": float(loss_fn())}
            if observe is not None:
                F_, G_ = net.F.numpy().copy(), net.G.numpy().copy()
                if np.isfinite(F_).all() and np.isfinite(G_).all():
                    extra = observe(F_, G_)
                    observed[:] = list(extra)
                    rec.update(extra)
                else:  # diverged: the loop stops on the non-finite record; metrics would refuse F, G
                    rec.update({k: math.nan for k in observed})
        return rec

    config = TrainConfig(steps=steps, checkpoints_per_decade=checkpoints_per_decade,
                         extra_checkpoints=tuple(extra_checkpoints))
    history = train(step, config, record, callbacks)
    return Fit(F=net.F.detach().numpy().copy(), G=net.G.detach().numpy().copy(), history=history)
