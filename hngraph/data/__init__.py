"""Graphs in: the raw TU files (:mod:`~hngraph.data.tu_files`), datasets
and their node features (:mod:`~hngraph.data.tudataset`,
:mod:`~hngraph.data.features`), OGB and molecule files, mini-batches built
on the device (:mod:`~hngraph.data.batching`) and GraphCL's augmentations
(:mod:`~hngraph.data.augment`). The lowest layer: it imports no other
subpackage."""
