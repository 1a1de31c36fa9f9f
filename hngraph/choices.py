"""The named choices of hngraph's settings, in a module that imports
nothing heavy, so that the configuration and the command line can check
them without importing torch."""

#: Node features of TU datasets (see :func:`hngraph.data.fit_feature_recipe`).
FEATURE_CHOICES = ("auto", "labels", "degree", "constant")
#: Negative weighting: the paper's derivation, or the published HCL code's
#: formula (see :func:`hngraph.losses.negative_weights`).
REWEIGHT_MODES = ("paper", "reference")
#: ``"device"``: mini-batches built on the training device by index
#: operations (:mod:`hngraph.batching`); ``"loader"``: PyG's ``DataLoader``,
#: for datasets larger than device memory and models that need ``Data``
#: objects; ``"auto"``: ``"device"`` unless the model needs ``Data`` objects.
BATCHING_CHOICES = ("auto", "device", "loader")
#: GraphCL's augmentations (see :mod:`hngraph.augment`).
AUGMENTATION_NAMES = ("node_drop", "edge_perturb", "feature_mask", "subgraph")
#: Training objectives: InfoGraph's local-global estimator, or two views.
OBJECTIVES = ("jsd", "infonce")
