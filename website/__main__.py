"""python -m website: build the course's site from executed notebooks."""
import argparse
import sys
from pathlib import Path

from website.build import REPO, build

DEFAULT_FOLDERS = [REPO / "bench" / "executed" / "photographs", REPO / "bench" / "executed" / "fashion-mnist"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m website", description=__doc__.split(":", 1)[1].strip())
    parser.add_argument("folders", nargs="*", type=Path, default=DEFAULT_FOLDERS,
                        help="folders of executed solution notebooks, NN_name.ipynb, the first that holds a "
                             "notebook giving its outputs (default: what `python -m bench.run --dataset "
                             "photographs` and `--dataset fashion-mnist` kept, in bench/executed/)")
    parser.add_argument("--output", type=Path, default=REPO / "site-build",
                        help="the folder the HTML site is written to (default: site-build/)")
    args = parser.parse_args(argv)
    try:
        missing = build([folder.resolve() for folder in args.folders], args.output.resolve())
    except RuntimeError as error:
        print(f"website: {error}", file=sys.stderr)
        return 1
    if missing:
        print(f"website: no executed notebook of {', '.join(missing)} in {', '.join(map(str, args.folders))}: "
              "those lectures are shown without outputs. Run `python -m bench.run` (or `--quick`) to make them.",
              file=sys.stderr)
    print(f"website: built {args.output / 'index.html'}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
