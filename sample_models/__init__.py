"""Models and data the tests and benchmarks use beyond :mod:`adamlr.zoo` (which ships with adamlr).

* :mod:`sample_models.setups`: the small problems of the recommendation benchmark.
* :mod:`sample_models.ecosystem`: Hugging Face, Lightning, torchvision and timm models on synthetic data.
"""
