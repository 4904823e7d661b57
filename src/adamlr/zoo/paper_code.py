"""The architectures of the authors' public code, which differ from the paper's text.

The code (GitHub ``alokendumazumder/ADAM_Convergence``, ``models.py``) builds, where the
paper's text suggests plain networks (``adamlr.zoo.nets``):

* **BN-everywhere MLP**: every layer is ``Linear → BatchNorm1d(track_running_stats=False)
  → ReLU``, *the output layer included* (its logits pass through BatchNorm and a ReLU).
  ``track_running_stats=False`` means batch statistics in train and eval mode alike.
* **1000 outputs** for every network (its ``get_model`` fixes ``output_dim = 1000``) even
  on 10-class data. Cross-entropy over 1000 logits with labels 0..9 is well defined: the
  990 unused logits only ever get pushed down.
* **Normal initialisation**: every Linear/Conv2d weight ~ N(0, σ²), biases 0, BatchNorm
  weight 1 and bias 0, with σ = 0.04 (MLP), 0.1 (LeNet), 0.045 (VGG-9). σ is a *standard
  deviation*: the code calls ``nn.init.normal_(weight, 0, 0.04)``, whose third argument is
  ``std``.

LeNet and VGG-9 keep this package's layouts (:func:`adamlr.zoo.nets.lenet`, max-pooling,
28×28 padded to 32×32; :data:`adamlr.zoo.nets.VGG9_LAYOUT`) with BatchNorm (running
statistics on, PyTorch's default, as in the authors' code) after every convolution and
every hidden linear layer; their output layer is a plain Linear. The authors' own LeNet
average-pools with padding 1, and their VGG-9 stops at 256 channels with an adaptive
4×4 max-pool; those variants are not reproduced here.

Every factory draws its weights from the global torch RNG (adamlr seeds it before the
call), so a seed fixes the weights.
"""

from __future__ import annotations

from typing import TypeVar

from torch import nn

from adamlr.zoo.nets import lenet, mlp, vgg9

PAPER_CODE_OUTPUTS = 1000  # the authors' get_model: output_dim = 1000 for every net and data set
MLP_WEIGHT_STD = 0.04
LENET_WEIGHT_STD = 0.1
VGG9_WEIGHT_STD = 0.045

ModuleT = TypeVar("ModuleT", bound=nn.Module)


def normal_init_(model: ModuleT, std: float) -> ModuleT:
    """The authors' "normal" initialisation, in place, from the global torch RNG.

    Every Linear and Conv2d weight w ~ N(0, std²) (``std`` is the standard deviation),
    every bias 0; every BatchNorm weight (γ) 1 and bias (β) 0.

    Args:
        model: the network to re-initialise.
        std: standard deviation σ of the weights.

    Returns:
        ``model`` itself.
    """
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.modules.batchnorm._BatchNorm) and module.affine:
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    return model


def batch_normalised(net: nn.Sequential, *, output_too: bool, running_stats: bool) -> nn.Sequential:
    """A copy of ``net``'s layer list with BatchNorm inserted right after every Conv2d and Linear.

    Args:
        net: a sequential network of Conv2d/Linear layers, activations and pooling.
        output_too: also normalise the last Linear (the output layer).
        running_stats: ``track_running_stats`` of the inserted layers (False: batch
            statistics in eval mode too).

    Returns:
        A new ``nn.Sequential`` sharing ``net``'s layer objects.
    """
    layers = list(net)
    last_linear = max(i for i, layer in enumerate(layers) if isinstance(layer, nn.Linear))
    out: list[nn.Module] = []
    for i, layer in enumerate(layers):
        out.append(layer)
        if isinstance(layer, nn.Conv2d):
            out.append(nn.BatchNorm2d(layer.out_channels, track_running_stats=running_stats))
        elif isinstance(layer, nn.Linear) and (i != last_linear or output_too):
            out.append(nn.BatchNorm1d(layer.out_features, track_running_stats=running_stats))
    return nn.Sequential(*out)


def mlp_bn(depth: int, in_features: int = 784, width: int = 1000, outputs: int = PAPER_CODE_OUTPUTS) -> nn.Sequential:
    """The authors' MLP: ``depth`` hidden layers, then the output layer, each Linear → BN → ReLU.

    Flattens image inputs first. BatchNorm keeps no running statistics; weights ~ N(0, 0.04²).
    """
    net = batch_normalised(mlp(in_features, width=width, depth=depth, classes=outputs),
                           output_too=True, running_stats=False)
    net.append(nn.ReLU())
    return normal_init_(net, MLP_WEIGHT_STD)


def lenet_bn(in_channels: int = 1, outputs: int = PAPER_CODE_OUTPUTS, image_size: int = 28) -> nn.Sequential:
    """LeNet-5 with BatchNorm (running statistics on) after both convolutions and both hidden Linears."""
    net = batch_normalised(lenet(in_channels, outputs, image_size), output_too=False, running_stats=True)
    return normal_init_(net, LENET_WEIGHT_STD)


def vgg9_bn(outputs: int = PAPER_CODE_OUTPUTS) -> nn.Sequential:
    """VGG-9 (32×32×3 inputs) with BatchNorm after all 7 convolutions and the hidden Linear."""
    net = batch_normalised(vgg9(outputs), output_too=False, running_stats=True)
    return normal_init_(net, VGG9_WEIGHT_STD)


# Zero-argument factories, by import path: adamlr.zoo.paper_code:mlp3_bn_fashion etc.
def mlp1_bn_fashion() -> nn.Module:
    return mlp_bn(1)


def mlp3_bn_fashion() -> nn.Module:
    return mlp_bn(3)


def mlp5_bn_fashion() -> nn.Module:
    return mlp_bn(5)


def lenet_bn_fashion() -> nn.Module:
    return lenet_bn(1, PAPER_CODE_OUTPUTS, 28)


def vgg9_bn_cifar10() -> nn.Module:
    return vgg9_bn(PAPER_CODE_OUTPUTS)
