"""``python -m benchmarks {run,overhead,devgrid,trajectories,streaming} ...``: accuracy grid,
cost, development grid, per-epoch diagnostics, streaming from an on-disk image folder."""

import sys


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"run": "benchmarks.run", "overhead": "benchmarks.overhead",
                "devgrid": "benchmarks.devgrid", "trajectories": "benchmarks.trajectories",
                "streaming": "benchmarks.streaming"}
    if not argv or argv[0] not in commands:
        print(f"usage: python -m benchmarks {{{','.join(commands)}}} [options]  (--help for each)")
        return 2
    module = __import__(commands[argv[0]], fromlist=["main"])
    module.main(argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
