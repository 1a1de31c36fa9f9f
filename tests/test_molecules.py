"""B3DB molecules in OGB's ogbg-molbbbp layout (hngraph.data.molecules)."""
import pytest
import torch

from hngraph import InfoGraph, seed_everything
from hngraph.data.ogb_graphs import load_ogb
from hngraph.eval.scoring import linear_probe


def test_real_molecules_end_to_end(tmp_path):
    """B3DB molecules through smiles2graph, OGB's loader and Evaluator."""
    pytest.importorskip("rdkit")
    pytest.importorskip("B3DB")
    from rdkit.Chem.Scaffolds.MurckoScaffold import MurckoScaffoldSmiles

    from hngraph.data.molecules import OGB_NAME, b3db_molecules, write_b3db
    smiles, labels = b3db_molecules(limit=300)
    ds = load_ogb(OGB_NAME, root=write_b3db(tmp_path, limit=300))
    assert len(ds) == 300 and 0 < labels.mean() < 1
    assert torch.equal(ds.y.view(-1), torch.as_tensor(labels))
    sizes = {k: len(v) for k, v in ds.split_idx.items()}
    assert sum(sizes.values()) == 300 and sizes["train"] >= 0.75 * 300
    # Scaffold split: no scaffold is shared between train and test.
    scaffold = [MurckoScaffoldSmiles(smiles=s, includeChirality=True)
                for s in smiles]
    train = {scaffold[i] for i in ds.split_idx["train"].tolist()}
    assert not train & {scaffold[i] for i in ds.split_idx["test"].tolist()}
    # The first molecule's graph has one node per heavy atom.
    from rdkit import Chem
    assert ds[0].num_nodes == Chem.MolFromSmiles(smiles[0]).GetNumAtoms()
    seed_everything(0)
    model = InfoGraph(ds.num_features, hidden=8, layers=2)
    scores = linear_probe(model, ds)
    assert 0.0 <= scores["test"]["rocauc"] <= 1.0
    assert 0.0 <= scores["valid"]["rocauc"] <= 1.0
