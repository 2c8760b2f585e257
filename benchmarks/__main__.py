"""``python -m benchmarks {run,overhead,devgrid,trajectories,streaming,syncs,label_quality,gpu,
noisy_selection,noise_estimate} ...``: accuracy grid, cost, development grid, per-epoch
diagnostics, streaming from an on-disk image folder, host synchronisations per training batch,
label_quality's candidates, the first run on a GPU, model selection on noisy labels, the noise
a fit finds."""

import sys


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"run": "benchmarks.run", "overhead": "benchmarks.overhead",
                "devgrid": "benchmarks.devgrid", "trajectories": "benchmarks.trajectories",
                "streaming": "benchmarks.streaming", "syncs": "benchmarks.syncs",
                "label_quality": "benchmarks.label_quality", "gpu": "benchmarks.gpu",
                "noisy_selection": "benchmarks.noisy_selection",
                "noise_estimate": "benchmarks.noise_estimate"}
    if not argv or argv[0] not in commands:
        print(f"usage: python -m benchmarks {{{','.join(commands)}}} [options]  (--help for each)")
        return 2
    module = __import__(commands[argv[0]], fromlist=["main"])
    status = module.main(argv[1:])  # an exit status, or a command's results (run's frame)
    return status if isinstance(status, int) else 0


if __name__ == "__main__":
    sys.exit(main())
