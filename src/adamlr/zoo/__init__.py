"""Models and data sets that ship with adamlr: the demo, the presets and the paper's architectures.

* :mod:`adamlr.zoo.nets`: the paper's ReLU MLPs, LeNet-5, VGG-9 and the demo's small MLP.
* :mod:`adamlr.zoo.paper_code`: the architectures of the authors' public code (BatchNorm after every layer).
* :mod:`adamlr.zoo.data`: digits (scikit-learn, bundled), Fashion-MNIST, MNIST and CIFAR-10 from local files.

Each is a zero-argument factory, named so that an import path reads as what it is:
``adamlr estimate --model adamlr.zoo.nets:mlp_digits --data adamlr.zoo.data:digits --epochs 100``.
Nothing is downloaded.
"""
