"""Tiny models and synthetic data from the libraries people train with: Hugging Face, Lightning, torchvision, timm.

Nothing is downloaded: each model is built from a configuration with random weights, and the
data is made up (token ids, images, points), so every factory runs offline in seconds. Each
library is imported only by its own factories (``pip install transformers lightning timm``, or
the project's ``dev`` extra, installs them). The section "Hugging Face, Lightning,
torchvision, timm" of docs/cli.md runs one command on each::

    adamlr estimate --model sample_models.ecosystem:bert_tiny --data sample_models.ecosystem:token_loader \\
        --loss model --epochs 3
"""

from __future__ import annotations

from functools import cache
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

VOCAB, SEQ_LEN, N_LABELS = 64, 12, 3


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- Hugging Face transformers ------------------------------------------------------------------


def bert_tiny() -> nn.Module:
    """A 2-layer BERT for sequence classification, hidden size 32, 3 labels, built from a config (no download)."""
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=SEQ_LEN, num_labels=N_LABELS)
    return BertForSequenceClassification(config)


def gpt2_tiny() -> nn.Module:
    """A 2-layer GPT-2 language model, hidden size 32, built from a config (no download)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    return GPT2LMHeadModel(GPT2Config(vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=2, n_positions=SEQ_LEN))


class TokenDataset(Dataset[dict[str, torch.Tensor]]):
    """Synthetic token sequences as a tokenizer and a labelled dataset would give them.

    Each item is a dict: ``input_ids``, ``attention_mask`` (trailing padding) and ``labels``
    (a class that depends on the tokens, so there is something to learn).
    """

    def __init__(self, n: int = 32, seed: int = 0) -> None:
        g = _gen(seed)
        self.input_ids = torch.randint(1, VOCAB, (n, SEQ_LEN), generator=g)
        lengths = torch.randint(SEQ_LEN // 2, SEQ_LEN + 1, (n,), generator=g)
        self.attention_mask = (torch.arange(SEQ_LEN) < lengths[:, None]).long()
        self.input_ids = self.input_ids * self.attention_mask
        self.labels = (self.input_ids.sum(dim=1) % N_LABELS).long()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.input_ids[i], "attention_mask": self.attention_mask[i], "labels": self.labels[i]}


def token_loader() -> DataLoader[Any]:
    """Batches of 8 dicts ``{input_ids, attention_mask, labels}`` (what a Hugging Face collator yields)."""
    return DataLoader(TokenDataset(), batch_size=8, shuffle=False)


def lm_batches() -> list[dict[str, torch.Tensor]]:
    """Causal language-model batches: ``labels`` are the ``input_ids`` (the model shifts them)."""
    data = TokenDataset(n=16, seed=1)
    return [{"input_ids": data.input_ids[i : i + 8], "labels": data.input_ids[i : i + 8]} for i in (0, 8)]


# --- Lightning ----------------------------------------------------------------------------------


@cache
def _lit_class() -> type[nn.Module]:
    import lightning as L

    class LitClassifier(L.LightningModule):  # type: ignore[misc]
        """A LightningModule as users write them: its own loss, logging and data."""

        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 3))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x)

        def training_step(self, batch: Any, batch_idx: int) -> dict[str, torch.Tensor]:
            x, y = batch
            loss = nn.functional.cross_entropy(self(x), y)
            self.log("train_loss", loss)  # outside a Trainer this only warns; adamlr silences it
            return {"loss": loss}

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.Adam(self.parameters(), lr=1e-3)

        def train_dataloader(self) -> DataLoader[Any]:
            g = _gen(2)
            x = torch.randn(40, 8, generator=g)
            y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
            return DataLoader(TensorDataset(x, y), batch_size=10, shuffle=False)

    return LitClassifier


def lit_classifier() -> nn.Module:
    """A LightningModule whose ``training_step`` is the loss and ``train_dataloader()`` the data."""
    return _lit_class()()


# --- torchvision and timm -----------------------------------------------------------------------


def resnet18_cifar() -> nn.Module:
    """torchvision's ResNet-18 with random weights and 10 classes (BatchNorm throughout)."""
    from torchvision.models import resnet18

    return resnet18(weights=None, num_classes=10)


def timm_vit() -> nn.Module:
    """timm's ``test_vit``, a tiny vision transformer, random weights, for 32×32 images and 10 classes."""
    import timm

    model: nn.Module = timm.create_model("test_vit", pretrained=False, num_classes=10, img_size=32)
    return model


def images32() -> DataLoader[Any]:
    """16 random 32×32 RGB images with 10-class labels, in batches of 8 (each BatchNorm batch is one of them)."""
    g = _gen(3)
    x = torch.randn(16, 3, 32, 32, generator=g)
    y = torch.randint(0, 10, (16,), generator=g)
    return DataLoader(TensorDataset(x, y), batch_size=8, shuffle=False)
