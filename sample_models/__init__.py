"""The paper's architectures and data sets as zero-argument factories for ``adamlr``.

Models (``sample_models.nets``) and data (``sample_models.data``) are named so that an
import path reads as what it is, e.g. ``--model sample_models.nets:mlp3_fashion
--data sample_models.data:fashion_mini``.
"""
