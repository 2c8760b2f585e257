"""A seconds-long smoke run of the benchmark runner (the full grids live in benchmarks/)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.filterwarnings("ignore")
def test_benchmark_runner_smoke(tmp_path):
    command = [sys.executable, "-m", "benchmarks", "run", "--datasets", "digits",
               "--imbalance-ratios", "10", "--noises", "sym:0.2", "--seeds", "0",
               "--methods", "ce", "unlocker", "--max-epochs", "3", "--name", "smoke",
               "--out", str(tmp_path)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(tmp_path / "smoke.csv", comment="#")
    assert frame["method"].tolist() == ["ce", "unlocker"]
    assert frame["balanced_accuracy"].between(0, 1).all()
    text = (tmp_path / "smoke.md").read_text()
    assert "command: `python -m benchmarks run" in text and "| unlocker |" in text
    assert (tmp_path / "smoke.png").stat().st_size > 5_000


def test_overview_marks_best_and_unlocker_margin(tmp_path):
    from benchmarks.run import header, main

    rows = []
    for seed, (ce, cleanlab, unlocker, clean) in enumerate([(0.5, 0.6, 0.7, 0.9),
                                                             (0.7, 0.6, 0.8, 0.9)]):
        for method, acc in [("ce", ce), ("cleanlab", cleanlab), ("unlocker", unlocker),
                            ("clean_ce", clean)]:
            rows.append({"dataset": "digits", "imbalance_ratio": 10.0, "noise": "sym",
                         "rate": 0.4, "seed": seed, "method": method, "balanced_accuracy": acc,
                         "many": acc, "medium": acc, "few": acc, "fit_seconds": 1.0})
    csv = tmp_path / "made.csv"
    recorded = [line.replace("machine: ", "machine: RECORDED ")
                for line in header("python -m benchmarks run --seeds 0 1", [0, 1])]
    with open(csv, "w") as f:
        f.writelines(f"# {line}\n" for line in recorded)
        pd.DataFrame(rows).to_csv(f, index=False)
    main(["--render", str(csv), "--no-plot"])
    text = csv.with_suffix(".md").read_text()
    # means: ce 0.6, cleanlab 0.6, unlocker 0.75 (best, bold), clean_ce 0.9 (a reference, not bold);
    # unlocker closes (0.75 - 0.6) / (0.9 - 0.6) of the gap
    line = next(x for x in text.splitlines() if x.startswith("| digits, IR 10, sym 40% |"))
    assert line == "| digits, IR 10, sym 40% | 0.600 | 0.600 | **0.750** | 0.900 | +0.150 | 50% |"
    assert "machine: RECORDED" in text and "python -m benchmarks run --seeds 0 1" in text


@pytest.mark.filterwarnings("ignore")
def test_resume_reuses_the_fits_of_an_interrupted_run(tmp_path):
    from benchmarks.run import KEYS, main

    argv = ["--datasets", "digits", "--imbalance-ratios", "10", "--noises", "sym:0.2",
            "--seeds", "0", "--methods", "ce", "la_loss", "--max-epochs", "2", "--name", "r",
            "--out", str(tmp_path), "--no-plot"]
    # an interrupted run left the first fit, with a value no real fit would give
    done = dict(zip(KEYS, ["digits", 10.0, "sym", 0.2, 0, "ce"], strict=True))
    pd.DataFrame([{**done, "balanced_accuracy": 0.123, "fit_seconds": 1.0}]).to_csv(
        tmp_path / "r.partial.csv", index=False)
    frame = main([*argv, "--resume"])
    assert frame["balanced_accuracy"].iloc[0] == 0.123  # kept, not refitted
    assert frame["method"].tolist() == ["ce", "la_loss"]
    assert 0 < frame["balanced_accuracy"].iloc[1] <= 1
    assert not (tmp_path / "r.partial.csv").exists()
    assert "--resume" not in (tmp_path / "r.csv").read_text()
    # without --resume a stale partial file is ignored: everything is fitted again
    frame.iloc[:1][KEYS].assign(balanced_accuracy=0.123).to_csv(tmp_path / "r.partial.csv",
                                                                 index=False)
    assert main(argv)["balanced_accuracy"].iloc[0] != 0.123


def test_devgrid_variants_parse_and_reuse_earlier_fits(tmp_path):
    from benchmarks.devgrid import main, parse_variant
    from sklearn_unlocker.strategies import SmallLossStrategy

    label, params = parse_variant("g:strategy=SmallLossStrategy(per_class=False),lr=1e-3")
    assert label == "g" and params["lr"] == 1e-3
    assert isinstance(params["strategy"], SmallLossStrategy)
    assert not params["strategy"].per_class
    assert parse_variant("c:base='ce',max_epochs=3")[1]["strategy"] == "none"
    from skorch.callbacks import LRScheduler

    (scheduler,) = parse_variant("s:callbacks=[LRScheduler(policy=torch.optim.lr_scheduler."
                                 "CosineAnnealingLR,T_max=4)]")[1]["callbacks"]
    assert isinstance(scheduler, LRScheduler) and scheduler.kwargs == {"T_max": 4}
    with pytest.raises(ValueError, match="unknown variant"):
        parse_variant("defualts")
    with pytest.raises(NameError):
        parse_variant("x:lr=__import__('os')")  # no builtins in a variant
    setting = "tab_small:sym:0.4:10"
    earlier = tmp_path / "earlier.csv"
    pd.DataFrame([{"variant": "a", "setting": setting, "seed": 100, "balanced_accuracy": 0.123,
                   "few": 0.1, "fit_seconds": 1.0}]).to_csv(earlier, index=False)
    frame = main(["--settings", setting, "--seeds", "100", "--variants", "a:max_epochs=3",
                  "b:max_epochs=3,warmup_epochs=1", "--reference", "a", "--jobs", "1",
                  "--reuse", str(earlier), "--name", "dev", "--out", str(tmp_path)])
    assert frame["balanced_accuracy"].tolist()[0] == 0.123  # reused, not refitted
    assert 0 < frame["balanced_accuracy"].tolist()[1] <= 1
    text = (tmp_path / "dev.md").read_text()
    assert "| mean diff. to a |" in text
    assert "- `b`: `max_epochs=3,warmup_epochs=1`" in text  # a variant as written, not a repr


@pytest.mark.filterwarnings("ignore")
def test_trajectories_record_every_epoch(tmp_path):
    from benchmarks.trajectories import main

    frame = main(["--settings", "tab_small:sym:0.4:10", "--seeds", "100", "--variants",
                  "short:max_epochs=4,warmup_epochs=2", "--jobs", "1", "--name", "t",
                  "--out", str(tmp_path)])
    assert frame["epoch"].tolist() == [1, 2, 3, 4]
    after = frame[frame["epoch"] > 2]  # selection runs after the warm-up
    assert after["precision_tail_given"].between(0, 1).all()
    assert (frame["true_ir"] == 10).all() and (frame["estimated_ir"] >= 1).all()
    assert "| short |" in (tmp_path / "t.md").read_text()


def test_shapes_are_ten_balanced_classes_of_images():
    from benchmarks.devdata import load_family, make_shapes

    X, y = make_shapes(5, random_state=0)
    assert X.shape == (50, 1, 10, 10) and np.bincount(y).tolist() == [5] * 10
    data, module = load_family("shapes:sym:0.4:10", 0)
    assert module.__name__ == "ConvNet" and data.true_imbalance_ratio == pytest.approx(10, 0.1)


@pytest.mark.filterwarnings("ignore")
def test_cleanlab_baseline_takes_images_with_a_nearly_empty_class():
    """cleanlab stacks rows with np.vstack when a fold lacks a class: images must not break it."""
    from benchmarks.methods import CleanLearningPresent
    from sklearn_unlocker.modules import ConvNet

    rng = np.random.RandomState(0)
    y = np.r_[np.zeros(30, int), np.ones(30, int), [2]]
    X = rng.normal(size=(len(y), 1, 6, 6)).astype(np.float32) + y[:, None, None, None]
    clf = CleanLearningPresent(3, random_state=0, module=ConvNet, max_epochs=2).fit(X, y)
    assert clf.predict(X[:5]).shape == (5,) and clf.py.shape == (3,)


def test_paired_interval_and_label_issue_metrics_hand_checked():
    from sklearn.utils import Bunch

    from benchmarks.devgrid import label_issue_metrics, paired_interval

    # mean 2, sd 1, t(0.975, 2) = 4.3027: half-width 4.3027 / sqrt(3) = 2.4841
    low, high = paired_interval([1.0, 2.0, 3.0])
    assert (low, high) == pytest.approx((2 - 2.48414, 2 + 2.48414), abs=1e-4)
    # 6 samples, 2 classes (true counts 4 and 2: class 1 is the tail half); wrong labels at
    # rows 0 and 4; flagged rows 0 and 5 (row 5 a clean tail sample)
    data = Bunch(noise_mask=np.array([1, 0, 0, 0, 1, 0], bool), true_counts=np.array([4, 2]),
                 y_train_true=np.array([0, 0, 0, 0, 1, 1]), classes=np.array([0, 1]))
    scores = label_issue_metrics(data, np.array([1, 0, 0, 0, 0, 1], bool),
                                 quality=np.array([0.1, 0.9, 0.8, 0.7, 0.2, 0.3]))
    assert scores["issue_precision"] == 0.5 and scores["issue_recall"] == 0.5
    assert scores["issues_flagged"] == 2
    assert scores["clean_tail_flagged"] == 1.0  # the one clean tail sample, row 5
    # wrong rows have qualities 0.1 and 0.2, the lowest two: a perfect ranking
    assert scores["issue_auroc"] == 1.0


def test_bc_trace_hand_checked():
    # D_bc = rows 0-3: given labels 0 0 1 1, true 0 1 1 1 -> purity 3/4, class 0 at 1/2;
    # the model predicts [0.5, 0.5] on the test rows (logits 0) and [0.8, 0.2] on D_bc
    # (logits log 4, 0): KL(test || D_bc) = 0.5 log(0.5/0.8) + 0.5 log(0.5/0.2)
    from types import SimpleNamespace

    import torch

    from benchmarks.bc_trace import BalancedCleanTrace, bc_table

    data = SimpleNamespace(y_train=np.array([0, 0, 1, 1, 0]),
                           y_train_true=np.array([0, 1, 1, 1, 1]),
                           X_train=np.ones((5, 2), dtype=np.float32),
                           X_test=np.zeros((3, 2), dtype=np.float32))
    logits = {1.0: [np.log(4.0), 0.0], 0.0: [0.0, 0.0]}
    procedure = SimpleNamespace(bc_indices=None, prediction_logits=lambda net, X: torch.tensor(
        [logits[float(x[0])] for x in X]))
    net = SimpleNamespace(procedure=procedure)
    trace = BalancedCleanTrace(data).initialize()
    trace.on_epoch_end(net)  # the warm-up: no D_bc, nothing recorded
    assert trace.summary() == {}
    procedure.bc_indices = np.array([0, 1, 2, 3])
    trace.on_epoch_end(net)
    summary = trace.summary()
    assert summary["bc_purity_last"] == 0.75 and summary["bc_class_purity_min_last"] == 0.5
    expected = 0.5 * np.log(0.5 / 0.8) + 0.5 * np.log(0.5 / 0.2)
    assert summary["bc_kl_last"] == pytest.approx(expected, rel=1e-12)
    lines = bc_table(pd.DataFrame([{"variant": "v", "balanced_accuracy": 0.5, **summary}]))
    assert lines[-1].startswith("| v | 0.750 / 0.750 | 0.750 | 0.500 |")


def test_bc_trace_refuses_a_held_out_split():
    from benchmarks.devgrid import _fit

    with pytest.raises(ValueError, match="train_split"):
        _fit("held_out:train_split=0.2", "tab_small:sym:0.4:10", 100, trace_bc=True)
