"""A real molecular dataset, offline: B3DB's blood-brain-barrier classes in
OGB's on-disk format, for :func:`hngraph.data.ogb_graphs.load_ogb`.

B3DB (Meng et al., "A curated diverse molecular database of blood-brain
barrier permeability with chemical descriptors", Scientific Data 2021,
<https://doi.org/10.1038/s41597-021-01069-5>) ships with the ``qc-B3DB``
package: 7,807 molecules as SMILES, labelled BBB+ or BBB-. The task is the
one of OGB's ``ogbg-molbbbp`` (MoleculeNet's BBBP: does the molecule cross
the blood-brain barrier), so :func:`write_b3db` writes B3DB under that name
and OGB's loader, split reader and ``Evaluator`` (ROC-AUC) take it as
they are. Molecules become graphs through OGB's ``smiles2graph`` (RDKit),
and the split is a scaffold split as OGB's: molecules grouped by their
Bemis-Murcko scaffold, the largest groups first into train (80%), then
valid and test (10% each).

Needs the optional extra ``molecules`` (``pip install "hngraph[molecules]"``:
RDKit and qc-B3DB).
"""
from __future__ import annotations

import gzip
import os
from collections import defaultdict
from pathlib import Path

import numpy as np

from ..errors import MissingExtraError

#: The OGB dataset whose task and format B3DB is written in.
OGB_NAME = "ogbg-molbbbp"


def _extra():
    try:
        import B3DB
        from rdkit import RDLogger
        from rdkit.Chem.Scaffolds.MurckoScaffold import MurckoScaffoldSmiles
    except ImportError as err:
        raise MissingExtraError(
            f"{err.name} is missing: the molecular dataset needs the "
            "optional extra, `pip install \"hngraph[molecules]\"` (RDKit and "
            "qc-B3DB).") from err
    RDLogger.DisableLog("rdApp.*")  # parse warnings of odd SMILES
    return Path(B3DB.__file__).parent, MurckoScaffoldSmiles


def b3db_molecules(*, limit: int | None = None
                   ) -> tuple[list[str], np.ndarray]:
    """B3DB's classification set: SMILES and labels (1 = BBB+), in the
    file's order; ``limit`` keeps a random sample of that many (seeded; the
    file is sorted by label)."""
    import pandas as pd
    folder, _ = _extra()
    table = pd.read_csv(folder / "B3DB_classification.tsv", sep="\t")
    if limit:
        table = table.sample(n=limit, random_state=0).sort_index()
    labels = (table["BBB+/BBB-"] == "BBB+").to_numpy(dtype=np.int64)
    return table["SMILES"].tolist(), labels


def scaffold_split(smiles: list[str], *, fractions=(0.8, 0.1, 0.1)
                   ) -> dict[str, np.ndarray]:
    """OGB's scaffold split: groups of equal Bemis-Murcko scaffold, largest
    first, fill train, then valid, then test."""
    _, scaffold_of = _extra()
    groups = defaultdict(list)
    for i, s in enumerate(smiles):
        groups[scaffold_of(smiles=s, includeChirality=True)].append(i)
    ordered = sorted(groups.values(), key=lambda g: (-len(g), g[0]))
    n = len(smiles)
    cut_train, cut_valid = fractions[0] * n, (fractions[0] + fractions[1]) * n
    parts = {"train": [], "valid": [], "test": []}
    for group in ordered:
        if len(parts["train"]) + len(group) <= cut_train:
            parts["train"] += group
        elif len(parts["train"]) + len(parts["valid"]) + len(group) \
                <= cut_valid:
            parts["valid"] += group
        else:
            parts["test"] += group
    return {k: np.array(sorted(v), dtype=np.int64) for k, v in parts.items()}


def _write_csv(path: Path, rows) -> None:
    with gzip.open(path, "wt") as f:
        for row in rows:
            f.write(",".join(str(v) for v in np.atleast_1d(row)) + "\n")


def write_b3db(root: str | os.PathLike, *, limit: int | None = None) -> Path:
    """Write B3DB as ``root/ogbg_molbbbp`` in OGB's raw layout (edge lists,
    atom and bond features, labels, scaffold split); molecules RDKit cannot
    parse are left out. Returns ``root``, for
    ``load_ogb("ogbg-molbbbp", root=root)``."""
    from ogb.utils import smiles2graph
    smiles, labels = b3db_molecules(limit=limit)
    graphs, kept = [], []
    for i, s in enumerate(smiles):
        try:
            graph = smiles2graph(s)
        except Exception:  # RDKit returns None for SMILES it cannot parse
            continue
        if graph["num_nodes"] > 0:
            graphs.append(graph)
            kept.append(i)
    folder = Path(root) / "_".join(OGB_NAME.split("-"))
    raw, split = folder / "raw", folder / "split" / "scaffold"
    raw.mkdir(parents=True, exist_ok=True)
    split.mkdir(parents=True, exist_ok=True)
    _write_csv(raw / "edge.csv.gz", (e for g in graphs
                                     for e in g["edge_index"].T[::2]))
    _write_csv(raw / "edge-feat.csv.gz", (f for g in graphs
                                          for f in g["edge_feat"][::2]))
    _write_csv(raw / "node-feat.csv.gz", (f for g in graphs
                                          for f in g["node_feat"]))
    _write_csv(raw / "num-node-list.csv.gz", (g["num_nodes"] for g in graphs))
    _write_csv(raw / "num-edge-list.csv.gz",
               (g["edge_index"].shape[1] // 2 for g in graphs))
    _write_csv(raw / "graph-label.csv.gz", labels[kept])
    for part, idx in scaffold_split([smiles[i] for i in kept]).items():
        _write_csv(split / f"{part}.csv.gz", idx)
    (folder / "RELEASE_v1.txt").write_text(
        "B3DB (qc-B3DB) written in the ogbg-molbbbp layout by hngraph\n")
    return Path(root)


#: The public names (the API reference lists these).
__all__ = ["write_b3db", "b3db_molecules", "scaffold_split"]
