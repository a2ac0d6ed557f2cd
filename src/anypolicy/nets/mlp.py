"""Multi-layer perceptrons and fused ensembles (one batched matmul for all members)."""
from __future__ import annotations

import math

import torch
from torch import nn


ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU, "silu": nn.SiLU, "tanh": nn.Tanh}


def activation_class(name: str) -> type[nn.Module]:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation '{name}'; choose one of {', '.join(ACTIVATIONS)}.")
    return ACTIVATIONS[name]


INITS = ("torch", "xavier")


def mlp(in_dim: int, hidden: tuple[int, ...], out_dim: int, layer_norm: bool = False,
        activation: str = "gelu", init: str = "torch", final_scale: float = 1.0) -> nn.Sequential:
    """Linear -> LayerNorm -> activation per hidden layer, then a linear output. init="xavier": weights
    Xavier-uniform, biases zero (FQL's and OGBench's default_init, variance scaling over fan_avg), the output
    layer's variance scaled by `final_scale` (FQL's actors: 0.01)."""
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(in_dim, h)] + ([nn.LayerNorm(h)] if layer_norm else []) + [activation_class(activation)()]
        in_dim = h
    layers.append(nn.Linear(in_dim, out_dim))
    net = nn.Sequential(*layers)
    if check_init(init) == "xavier":
        linears = [m for m in net if isinstance(m, nn.Linear)]
        for i, layer in enumerate(linears):
            nn.init.xavier_uniform_(layer.weight, gain=math.sqrt(final_scale) if i == len(linears) - 1 else 1.0)
            nn.init.zeros_(layer.bias)
    return net


def check_init(init: str) -> str:
    if init not in INITS:
        raise ValueError(f"unknown init '{init}'; choose one of {', '.join(INITS)}.")
    return init


class EnsembleLinear(nn.Module):
    """E independent linear layers applied to x [E, B, in] with one batched matmul. Without `bias` the
    layer keeps a fixed zero bias (a buffer, so older checkpoints that trained one still load)."""

    def __init__(self, ensemble: int, in_dim: int, out_dim: int, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(ensemble, in_dim, out_dim))
        bound = 1.0 / math.sqrt(in_dim)  # the same init as nn.Linear, member by member
        nn.init.uniform_(self.weight, -bound, bound)
        init = torch.empty(ensemble, 1, out_dim).uniform_(-bound, bound)  # drawn either way: same random stream
        if bias:
            self.bias = nn.Parameter(init)
        else:
            self.register_buffer("bias", torch.zeros(ensemble, 1, out_dim))

    def forward(self, x: torch.Tensor, members: int | None = None) -> torch.Tensor:
        """x [E, B, in] -> [E, B, out]; with `members`, only the first members (x [members, B, in])."""
        if self.weight.shape[-1] == 1 and (x.dtype == torch.float32 or torch.compiler.is_compiling()):
            # one output (a Q-value): on the CPU batched matrix-vector products are slow (in fp32 4x slower
            # than this product and sum, which torch.compile also fuses into the preceding activation)
            return (x * self.weight[:members].transpose(1, 2)).sum(-1, keepdim=True) + self.bias[:members]
        return torch.baddbmm(self.bias[:members], x, self.weight[:members])


class EnsembleLayerNorm(nn.Module):
    """LayerNorm with a separate affine transform per ensemble member."""

    def __init__(self, ensemble: int, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ensemble, 1, dim))
        self.bias = nn.Parameter(torch.zeros(ensemble, 1, dim))

    def forward(self, x: torch.Tensor, members: int | None = None) -> torch.Tensor:
        return torch.nn.functional.layer_norm(x, x.shape[-1:]) * self.weight[:members] + self.bias[:members]


class _NoNorm(nn.Module):
    def forward(self, x: torch.Tensor, members: int | None = None) -> torch.Tensor:
        return x


class EnsembleMLP(nn.Module):
    """E MLPs over [E, B, in] -> [E, B, out]. With several `in_dims` (e.g. state and action) the first layer
    takes the inputs separately, so the state part is computed once and broadcast over many actions. With
    `refeed` the last input (the action) enters every later layer too (PA-RL, Appendix B: over image features
    a critic otherwise tends to ignore its action)."""

    def __init__(self, ensemble: int, in_dims: tuple[int, ...], hidden: tuple[int, ...], out_dim: int,
                 layer_norm: bool = True, activation: str = "gelu", refeed: bool = False,
                 norm_after_activation: bool = False, init: str = "torch"):
        super().__init__()
        self.ensemble = ensemble
        self.norm_after_activation = norm_after_activation  # Linear -> act -> LayerNorm (FQL's MLP) when true
        # one bias for the first layer, as one linear layer over the concatenated inputs has (two trained
        # biases would move the sum twice as fast under Adam)
        self.first = nn.ModuleList(EnsembleLinear(ensemble, d, hidden[0], bias=i == 0) for i, d in enumerate(in_dims))
        self.norms = nn.ModuleList(EnsembleLayerNorm(ensemble, h) if layer_norm else _NoNorm() for h in hidden)
        self.hidden = nn.ModuleList(EnsembleLinear(ensemble, a, b) for a, b in zip(hidden[:-1], hidden[1:]))
        self.out = EnsembleLinear(ensemble, hidden[-1], out_dim)
        self.act = activation_class(activation)()
        self.refeed = nn.ModuleList(EnsembleLinear(ensemble, in_dims[-1], h, bias=False)
                                    for h in (*hidden[1:], out_dim)) if refeed else None
        if check_init(init) == "xavier":  # the split first layer counts all of its inputs as its fan-in
            fan_in = sum(in_dims)
            for layer in self.first:
                self._xavier(layer, fan_in)
            for layer in (*self.hidden, self.out):
                self._xavier(layer, layer.weight.shape[1])

    @staticmethod
    @torch.no_grad()
    def _xavier(layer: "EnsembleLinear", fan_in: int) -> None:
        bound = math.sqrt(6.0 / (fan_in + layer.weight.shape[-1]))
        layer.weight.uniform_(-bound, bound)
        layer.bias.zero_()

    def hidden_activation(self, h: torch.Tensor, norm: nn.Module, members: int | None) -> torch.Tensor:
        return norm(self.act(h), members) if self.norm_after_activation else self.act(norm(h, members))

    def first_layer(self, *inputs: torch.Tensor, members: int | None = None) -> torch.Tensor:
        """Sum of the first layer over inputs; each input is [B, d] or [B, n, d] (broadcast against each other)."""
        lead = inputs[0].shape[:-1]
        if len(inputs) == 1 or any(x.shape[:-1] != lead for x in inputs):
            return self.broadcast_first_layer(*inputs, members=members)
        # a row of every input for each row (one action per state): one matmul over the concatenated inputs
        # costs little more than the state's alone, where a thin one of its own (the action's) costs as much
        e, x = members or self.ensemble, torch.cat(inputs, -1)
        weight = torch.cat([layer.weight[:members] for layer in self.first], 1)
        y = torch.baddbmm(self.first[0].bias[:members], x.reshape(1, -1, x.shape[-1]).expand(e, -1, -1), weight)
        return y.reshape(e, *lead, -1)

    def broadcast_first_layer(self, *inputs: torch.Tensor, members: int | None = None) -> torch.Tensor:
        """The first layer input by input, each computed once and broadcast (many actions per state)."""
        total, e = None, members or self.ensemble
        for layer, x in zip(self.first, inputs):
            lead = x.shape[:-1]
            y = layer(x.reshape(1, -1, x.shape[-1]).expand(e, -1, -1), members)
            y = y.reshape(e, *lead, -1)
            if total is not None:
                while y.dim() < total.dim():
                    y = y.unsqueeze(-2)
                while total.dim() < y.dim():
                    total = total.unsqueeze(-2)
            total = y if total is None else total + y
        return total

    def forward(self, *inputs: torch.Tensor, members: int | None = None) -> torch.Tensor:
        """[E, ..., out]; with `members`, only the first members are computed ([members, ..., out])."""
        m = members
        h = self.first_layer(*inputs, members=m)
        e, lead = h.shape[0], h.shape[1:-1]
        h = self.hidden_activation(h.reshape(e, -1, h.shape[-1]), self.norms[0], m)
        a = None
        if self.refeed is not None:  # the last input, one row per row of h: [E, B * n, d]
            last = inputs[-1]
            a = last.expand(*lead, last.shape[-1]).reshape(1, -1, last.shape[-1]).expand(e, -1, -1)
        for i, (layer, norm) in enumerate(zip(self.hidden, self.norms[1:])):
            h = self.hidden_activation(self._layer(i, layer, h, a, m), norm, m)
        return self._layer(-1, self.out, h, a, m).reshape(e, *lead, -1)

    def _layer(self, i: int, layer: EnsembleLinear, h, a, members):
        """A later layer, plus its share of the re-fed action when there is one."""
        y = layer(h, members)
        return y if a is None else y + self.refeed[i](a, members)


class ResidualMLP(nn.Module):
    """in -> width, `blocks` x [LayerNorm -> Linear(4w) -> act -> Linear(w)] with skip connections -> out
    (the noise/velocity network of diffusion and flow policies)."""

    def __init__(self, in_dim: int, width: int, out_dim: int, blocks: int = 3, activation: str = "gelu"):
        super().__init__()
        act = activation_class(activation)
        self.inp = nn.Linear(in_dim, width)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(width), nn.Linear(width, 4 * width), act(), nn.Linear(4 * width, width))
            for _ in range(blocks))
        self.out = nn.Sequential(nn.LayerNorm(width), act(), nn.Linear(width, out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.inp(x)
        for block in self.blocks:
            h = h + block(h)
        return self.out(h)


def sinusoidal_embedding(t: torch.Tensor, dim: int, max_period: float = 100.0) -> torch.Tensor:
    """Fourier features of a scalar time t [B] -> [B, dim]."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    angles = t.float().unsqueeze(-1) * freqs
    return torch.cat([angles.sin(), angles.cos()], -1)
