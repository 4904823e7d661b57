"""A character-level language model on seeded synthetic text, trained on mini-batches (no download).

The text comes from an order-2 Markov chain over 27 symbols (a–z and space) whose transitions are
drawn once from a fixed seed, each context allowing a few next symbols with Zipf-like weights: a
language with structure to learn and a known floor, identical on every machine.
"""

from __future__ import annotations

import functools

import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.data import DataLoader, TensorDataset

SYMBOLS = 27
TEXT_SEED = 4321
CONTEXT = 32


@functools.cache
def _transitions(choices: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(TEXT_SEED)
    nexts = torch.stack([torch.randperm(SYMBOLS, generator=gen)[:choices] for _ in range(SYMBOLS * SYMBOLS)])
    weights = 1.0 / torch.arange(1, choices + 1, dtype=torch.float64)
    return nexts, weights / weights.sum()


@functools.cache
def text(length: int) -> torch.Tensor:
    """``length`` symbols of the synthetic language (int64 codes 0–26), the same on every call."""
    nexts, probs = _transitions()
    gen = torch.Generator().manual_seed(TEXT_SEED + 1)
    picks = torch.multinomial(probs, length, replacement=True, generator=gen)
    out = torch.empty(length, dtype=torch.int64)
    a, b = 0, 1
    for i in range(length):
        c = int(nexts[a * SYMBOLS + b, picks[i]])
        out[i] = c
        a, b = b, c
    return out


def sequences(n: int, context: int = CONTEXT) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` disjoint windows of ``context`` symbols and their next-symbol targets, ``(n, context)`` each."""
    stream = text(n * context + 1)
    return stream[:-1].view(n, context).clone(), stream[1:].view(n, context).clone()


class CharLM(nn.Module):
    """A causal transformer LM: embeddings, ``layers`` pre-LayerNorm encoder layers with a causal mask, a head.

    Returns logits ``(n, SYMBOLS, context)``, the layout ``F.cross_entropy`` takes with targets ``(n, context)``.
    """

    def __init__(self, width: int = 32, layers: int = 2, heads: int = 2, context: int = CONTEXT) -> None:
        super().__init__()
        self.tokens = nn.Embedding(SYMBOLS, width)
        self.positions = nn.Parameter(0.02 * torch.randn(context, width))
        layer = nn.TransformerEncoderLayer(width, heads, 4 * width, dropout=0.0, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, SYMBOLS)
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(context), persistent=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        length = tokens.shape[1]
        with sdpa_kernel(SDPBackend.MATH):  # the fused kernels have no double backward
            hidden = self.encoder(self.tokens(tokens) + self.positions[:length], mask=self.mask[:length, :length])
        return self.head(self.norm(hidden)).transpose(1, 2)


def char_lm_model() -> nn.Module:
    """A 2-layer causal transformer LM, width 32 (about 27 k parameters)."""
    return CharLM()


def char_lm_data() -> tuple[torch.Tensor, torch.Tensor]:
    """2,048 windows of 32 symbols (65,536 tokens)."""
    return sequences(2048)


def char_lm_large_model() -> nn.Module:
    """A 3-layer causal transformer LM, width 64, for the cost benchmark (about 150 k parameters)."""
    return CharLM(width=64, layers=3, heads=4)


def char_lm_large_loader() -> DataLoader:
    """16,384 windows of 32 symbols in shuffled batches of 64: the cost benchmark's LM data."""
    x, y = sequences(16384)
    return DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True,
                      generator=torch.Generator().manual_seed(0))
