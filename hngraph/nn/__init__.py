"""The models: the GIN encoder (:mod:`~hngraph.nn.encoders`), the
hard-negative losses (:mod:`~hngraph.nn.losses`) and the self-supervised
models built from them (:mod:`~hngraph.nn.models`). Above
:mod:`hngraph.data`."""
