"""The search rule (issue 18): its walk over rates on closed-form probe curves, and on real probes of a model."""

import math

import pytest

from adamlr import estimate
from adamlr.diagnostics.probing import ProbeResult, judge
from adamlr.diagnostics.search import FINE, MAX_PROBES, STEP, search_rate

A = "tests.assets.factories:"


def curve(best: float, blowup: float | None = None, floor: float = 1.0):
    """A prober whose L(w_k) is a parabola in log10(rate) around ``best``; rates above ``blowup`` blow up."""
    calls = []

    def run(rate: float) -> ProbeResult:
        calls.append(rate)
        final = math.inf if blowup is not None and rate > blowup else floor * (1 + (math.log10(rate / best)) ** 2)
        verdict, peak, above = judge([final], 10.0, final)
        return ProbeResult(20, rate, (final,), 10.0, final, verdict, peak, above, None, 0.0)

    return run, calls


@pytest.mark.parametrize("anchor", [1e-4, 3e-3, 0.2, 5.0])
def test_the_search_finds_the_minimum_of_a_probe_curve_from_anywhere(anchor):
    """The parabola in (log rate, log L) is exact on this curve's quarter-decade neighbours to within an eighth of a
    decade: the rate lands within 10^(1/8) of the curve's minimum, wherever the anchor starts."""
    run, calls = curve(best=0.01)
    found = search_rate(run, anchor, steps=20, horizon=20)
    assert abs(math.log10(found.rate / 0.01)) <= 0.125 + 1e-9
    assert found.anchor == anchor and calls[0] == anchor and len(found.probes) == len(calls) <= MAX_PROBES + 2
    assert abs(math.log10(found.best_probe / 0.01)) <= 0.125 + 1e-9  # a quarter-decade probe lies this close


def test_from_a_blown_up_anchor_it_only_goes_down():
    run, calls = curve(best=0.003, blowup=0.05)
    found = search_rate(run, 1.0, steps=20, horizon=100)
    assert calls[1] == pytest.approx(1.0 / STEP)  # no probe above a blow-up
    assert all(c <= 1.0 for c in calls)
    assert abs(math.log10(found.rate / 0.003)) <= 0.125 + 1e-9


def test_from_an_anchor_whose_loss_rose_and_settled_it_only_goes_down():
    """A transient anchor (above L(w0) for a while, ending below it) is not walked up from; a descending one is."""
    def run(rate: float) -> ProbeResult:
        calls.append(rate)
        final = 1 + math.log10(rate / 0.01) ** 2
        losses = (12.0, final) if rate >= 0.1 else (final,)  # rates from 0.1 up rise above L(w0) = 10 first
        verdict, peak, above = judge(losses, 10.0, final)
        return ProbeResult(20, rate, losses, 10.0, final, verdict, peak, above, None, 0.0)

    calls: list[float] = []
    found = search_rate(run, 0.3, steps=20, horizon=20)
    assert found.probes[0].verdict == "transient" and all(c <= 0.3 for c in calls)
    assert abs(math.log10(found.rate / 0.01)) <= 0.125 + 1e-9
    calls.clear()
    search_rate(run, 0.03, steps=20, horizon=20)
    assert calls[1] == pytest.approx(0.03 * STEP)  # descends: the way up is tried first


def test_fine_probes_a_quarter_decade_either_side_and_the_horizon_factor():
    run, calls = curve(best=0.1)
    found = search_rate(run, 0.1, steps=20, horizon=2000, exponent=0.5)
    assert any(c == pytest.approx(0.1 / FINE) for c in calls) and any(c == pytest.approx(0.1 * FINE) for c in calls)
    assert found.horizon_factor == pytest.approx((2000 / 20) ** -0.5)
    assert found.rate == pytest.approx(found.refined * found.horizon_factor)
    assert search_rate(curve(best=0.1)[0], 0.1, steps=20, horizon=10).horizon_factor == 1.0  # T ≤ k


def test_the_search_round_trips_through_json():
    from adamlr.diagnostics.search import SearchResult

    found = search_rate(curve(best=0.02, blowup=1.0)[0], 3.0, steps=20, horizon=50)
    again = SearchResult.from_dict(found.to_dict())
    assert again == found and again.probe_at(found.anchor) is not None and again.probe_at(1234.5) is None


def test_on_a_model_the_search_probes_the_users_batches_and_beats_the_blown_up_paper_alpha():
    """T = 1 step makes the paper's α blow this small ReLU net up; the search goes down from it to a rate whose probe
    ends below L(w0), and every probe steps as training would (one full batch each step)."""
    r = estimate(A + "tiny_relu_mlp", A + "tiny_data", steps=1, samples=2, scale=4)
    anchor = r.search.probe_at(r.search.anchor)
    assert anchor.blew_up and r.recommended_lr < r.lr / 3
    assert r.probe.lr == r.recommended_lr and not r.probe.blew_up
    assert all(p.steps == 1 and p.batch_size is None for p in r.search.probes)
    loader = estimate(A + "tiny_mlp", A + "tiny_loader", epochs=3, samples=2)
    assert all(p.batch_size == 5 and p.steps == 15 for p in loader.search.probes)  # 5 batches × 3 epochs < 20
    batched = estimate(A + "tiny_mlp", A + "tiny_data", epochs=2, samples=2, batch_size=4)
    assert all(p.batch_size == 4 and p.steps == 12 for p in batched.search.probes)  # ⌈23/4⌉ × 2 epochs
