import json


def test_epoch_selection_reports_each_seeds_best_epoch(tmp_path):
    """The diagnostic of RESULTS.md: per-epoch mean ± std over seeds, and the
    mean of each seed's best epoch, worked out by hand for two seeds."""
    from report import epoch_selection
    for seed, (a10, a200) in enumerate([(0.80, 0.90), (0.70, 0.60)]):
        (tmp_path / f"MUTAG_infograph_beta0_tau0_seed{seed}.json").write_text(
            json.dumps({"config": {"dataset": "MUTAG"}, "accuracy_mean": a200,
                        "seed": seed, "epoch_evaluated": 200,
                        "eval_history": {"10": {"accuracy_mean": a10}}}))
    lines = epoch_selection(tmp_path)
    row = next(ln for ln in lines if ln.startswith("- MUTAG"))
    # epoch 10: mean 75, population std 5; epoch 200: 75 and 15; the best
    # epochs are 200 (90) and 10 (70): mean 80, std 10; 80 - 89.01 = -9.01.
    assert row == ("- MUTAG (n=2): epoch 10 75.00 ± 5.00, epoch 200 75.00 ± "
                   "15.00; each seed's best epoch 80.00 ± 10.00 (-9.01 against"
                   " the published 89.01)")
    assert epoch_selection(tmp_path / "none") == []


def test_questions_keep_feature_and_epoch_variants_out_of_question_1():
    """An InfoGraph variant (other node features) is a baseline for
    question 2, never a hard-negative cell of question 1, even when it is the
    best cell of the row."""
    from report import questions

    def cell(mean, std, beta, tau_plus, features="auto"):
        return {"mean": mean, "std": std, "n": 3, "beta": beta,
                "tau_plus": tau_plus, "epochs": 200, "features": features}
    table = {"REDDIT-BINARY": {
        "infograph": cell(78.0, 1.0, 0, 0),
        "infograph-constant": cell(83.0, 0.5, 0, 0, "constant"),
        "paper-b2": cell(79.5, 0.4, 2, 0.5),
        "hcl-code-b10-constant": cell(90.0, 0.1, 10, 0.5, "constant")}}
    text = "\n".join(questions(table))
    assert "best hard cell paper-b2 +1.50 points (beats the std" in text
    assert "beats InfoGraph on 1 of 1 paper datasets" in text
    assert "REDDIT-BINARY (infograph): -4.50 points (outside 1.5)" in text
    assert "REDDIT-BINARY (infograph-constant): +0.50 points (within 1.5)" \
        in text
