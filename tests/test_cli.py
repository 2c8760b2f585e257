import io
import subprocess
import sys

from sklearn_unlocker.__main__ import demo, main


def test_demo_prints_the_data_then_the_comparison():
    out = io.StringIO()
    demo(imbalance_ratio=50, noise="sym", noise_rate=0.4, seed=0, file=out)
    text = out.getvalue()
    assert "scenario: relieve" in text
    assert len([line for line in text.splitlines() if line.strip()[:1].isdigit()]) == 10
    assert "plain cross-entropy" in text and "UnlockerClassifier" in text
    assert "estimated imbalance ratio" in text


def test_module_entry_point_runs():
    result = subprocess.run(
        [sys.executable, "-m", "sklearn_unlocker", "demo", "--noise", "t2h", "--data-only"],
        capture_output=True, text=True, timeout=120, check=True,
    )
    assert "scenario: aggravate" in result.stdout
    assert "UnlockerClassifier" not in result.stdout
    assert main(["demo", "--noise-rate", "0.2", "--data-only"]) == 0
