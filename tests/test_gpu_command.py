"""``python -m benchmarks gpu --smoke``: the first-contact command runs here, on tiny data."""

import torch

from benchmarks.gpu import main


def test_the_gpu_command_runs_in_smoke_mode(tmp_path):
    out = tmp_path / "gpu.md"
    assert main(["--smoke", "--out", str(out)]) == 0
    rows = [line.split(" | ") for line in out.read_text().splitlines()
            if line.startswith("| ") and not line.startswith(("| check", "|---"))]
    status = {row[0].lstrip("| "): row[1] for row in rows}
    assert "failed" not in status.values()
    cuda_only = [name for name in status if name.startswith(("CUDA tests", "bfloat16",
                                                             "synchronisations"))]
    assert len(cuda_only) == 8
    expected = "ok" if torch.cuda.is_available() else "skipped"
    assert all(status[name] in (expected, "skipped") for name in cuda_only)
    assert status["pickled on the fit's device, loaded where there is no CUDA"] == "ok"
    assert sum(name.startswith("fit, then warm start") for name in status) == 9
