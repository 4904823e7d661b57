"""Does evaluating several weight samples at once (torch.func.vmap) pay? Measured, side by side.

    python benchmarks/vmap_samples.py

For K weight samples of one model, times K separate Hessian-vector products (each through
its own cached gradient graph) against one product through a single graph whose forward
pass is vmapped over the K stacked parameter sets. Prints sequential / stacked (> 1: the
stacked form is faster).
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch.func import functional_call, vmap

from adamlr.loading import load_object

CASES = [
    ("tests.assets.factories:tiny_mlp", "tests.assets.factories:tiny_data"),
    ("adamlr.zoo.nets:mlp_digits", "adamlr.zoo.data:digits"),
    ("adamlr.zoo.nets:mlp1_digits", "adamlr.zoo.data:digits"),
]


def timed(fn, repeats: int = 5) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def compare(model_spec: str, data_spec: str, k: int) -> float:
    torch.manual_seed(0)
    model = load_object(model_spec)().eval()
    x, y = load_object(data_spec)()
    names = [n for n, _ in model.named_parameters()]
    samples = [{n: p.detach() + 0.01 * torch.randn_like(p) for n, p in model.named_parameters()} for _ in range(k)]
    vectors = [[torch.randn_like(s[n]) for n in names] for s in samples]

    def graph(params):
        leaves = [params[n].clone().requires_grad_() for n in names]
        loss = F.cross_entropy(functional_call(model, dict(zip(names, leaves)), (x,)), y)
        return leaves, torch.autograd.grad(loss, leaves, create_graph=True)

    singles = [graph(s) for s in samples]

    def sequential():
        for (leaves, grads), v in zip(singles, vectors):
            torch.autograd.grad(grads, leaves, v, retain_graph=True)

    stacked = [torch.stack([s[n] for s in samples]).requires_grad_() for n in names]
    outputs = vmap(lambda *ps: functional_call(model, dict(zip(names, ps)), (x,)))(*stacked)
    total = sum(F.cross_entropy(outputs[i], y) for i in range(k))
    grads = torch.autograd.grad(total, stacked, create_graph=True)
    stacked_v = [torch.stack([v[j] for v in vectors]) for j in range(len(names))]

    def together():
        torch.autograd.grad(grads, stacked, stacked_v, retain_graph=True)

    seq, tog = timed(sequential), timed(together)
    n_params = sum(p.numel() for p in samples[0].values())
    print(f"{model_spec:<36} {n_params:>9,} params  K={k:<3} sequential {seq * 1e3:8.2f} ms  "
          f"stacked {tog * 1e3:8.2f} ms  ratio {seq / tog:5.2f}")
    return seq / tog


def main() -> None:
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for model_spec, data_spec in CASES:
        for k in (2, 5, 10):
            compare(model_spec, data_spec, k)


if __name__ == "__main__":
    main()
