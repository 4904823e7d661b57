"""Cost of one Hessian-vector product relative to one gradient, measured side by side.

    python benchmarks/hvp_cost.py                       # 3-layer width-1000 MLP, mini Fashion-MNIST
    python benchmarks/hvp_cost.py --model adamlr.zoo.nets:lenet_fashion
    python benchmarks/hvp_cost.py --model adamlr.zoo.nets:mlp_digits --data adamlr.zoo.data:digits

Times (median of --repeats) in one process, on the same weights and data:
  gradient            forward + backward from scratch (what one training step costs)
  hvp stream          forward + gradient-with-graph + second backward (adamlr --hvp stream)
  hvp cached          one backward through a kept gradient graph (adamlr --hvp cached)
  jvp(grad)           torch.func forward-over-reverse, from scratch
  linearize           torch.func.linearize of the gradient, per product after linearising
  compiled jvp(grad)  --compile: torch.compile of jvp(grad), per product after compiling (inductor)
and prints each as a ratio to the gradient.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, jvp, linearize

from adamlr.loading import load_object


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="adamlr.zoo.nets:mlp3_fashion")
    parser.add_argument("--data", default="adamlr.zoo.data:fashion_mini")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--compile", action="store_true", help="add torch.compile(jvp(grad)) (compiles for seconds)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = load_object(args.model)().eval()
    x, y = load_object(args.data)()
    params = {k: p.detach() for k, p in model.named_parameters()}
    names = list(params)
    v = {k: torch.randn_like(t) for k, t in params.items()}

    def loss_of(p):
        return F.cross_entropy(functional_call(model, p, (x,)), y)

    def leaves():
        return [params[k].clone().requires_grad_() for k in names]

    def gradient():
        ps = leaves()
        torch.autograd.grad(loss_of(dict(zip(names, ps))), ps)

    def hvp_stream():
        ps = leaves()
        g = torch.autograd.grad(loss_of(dict(zip(names, ps))), ps, create_graph=True)
        torch.autograd.grad(g, ps, [v[k] for k in names])

    kept = leaves()
    kept_grad = torch.autograd.grad(loss_of(dict(zip(names, kept))), kept, create_graph=True)

    def hvp_cached():
        torch.autograd.grad(kept_grad, kept, [v[k] for k in names], retain_graph=True)

    def jvp_grad():
        jvp(grad(loss_of), (params,), (v,))

    _, linear = linearize(grad(loss_of), params)

    cases = {"gradient": gradient, "hvp stream": hvp_stream, "hvp cached": hvp_cached, "jvp(grad)": jvp_grad,
             "linearize (per product)": lambda: linear(v)}
    if args.compile:
        compiled = torch.compile(lambda vector: jvp(grad(loss_of), (params,), (vector,)))
        started = time.perf_counter()
        compiled(v)
        print(f"torch.compile(jvp(grad)): first call (compiling) {time.perf_counter() - started:.1f} s")
        cases["compiled jvp(grad)"] = lambda: compiled(v)
    seconds = {name: median_seconds(fn, args.repeats) for name, fn in cases.items()}
    n_params = sum(t.numel() for t in params.values())
    print(f"{args.model} on {args.data}: {n_params:,} parameters, {x.shape[0]:,} examples, "
          f"{torch.get_num_threads()} threads, median of {args.repeats}")
    for name, s in seconds.items():
        print(f"  {name:<24} {s * 1000:9.1f} ms   {s / seconds['gradient']:5.2f} × gradient")


if __name__ == "__main__":
    main()
