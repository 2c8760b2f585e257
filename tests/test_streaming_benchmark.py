"""The streaming benchmark runs end to end on a tiny generated image folder."""

from benchmarks.streaming import main, make_image_folder


def test_the_streaming_benchmark_writes_its_table(tmp_path):
    root = make_image_folder(tmp_path / "images", 40, n_classes=2)
    assert len(list(root.glob("class_*/*.png"))) == 40
    per_epoch, memory = main(["--root", str(root), "--n", "40", "--classes", "2", "--epochs", "1",
                              "--warmup", "0", "--width", "4", "--workers", "0", "--repeats", "1",
                              "--out", str(tmp_path), "--name", "s"])
    assert set(per_epoch) == {"plain", "ce", "unlocker"} and all(v > 0 for v in per_epoch.values())
    assert all(after >= before for before, after in memory.values())
    assert "| unlocker |" in (tmp_path / "s.md").read_text()
