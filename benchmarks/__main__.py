"""``python -m benchmarks {run,overhead,devgrid,trajectories} ...``: accuracy grid, cost,
development grid, per-epoch diagnostics."""

import sys


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"run": "benchmarks.run", "overhead": "benchmarks.overhead",
                "devgrid": "benchmarks.devgrid", "trajectories": "benchmarks.trajectories"}
    if not argv or argv[0] not in commands:
        print(f"usage: python -m benchmarks {{{','.join(commands)}}} [options]  (--help for each)")
        return 2
    module = __import__(commands[argv[0]], fromlist=["main"])
    module.main(argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
