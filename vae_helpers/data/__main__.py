"""``python -m vae_helpers.data download``: fetch the course datasets into the data folder.

Run it once with a network on a machine that will be offline later (a lab, an exam, a Binder
image). Offline, it says in a few lines what is missing and how to fix it, and exits with 1.
"""
import argparse
import sys

from . import _IDX_FILES, _SOURCES, DatasetNotFoundError, _load_idx_dataset, data_dir

_NO_DOWNLOAD = """python -m vae_helpers.data download: could not download {title}. Tried:
{tried}
This command needs a network. Either run it once on a machine with one and copy its data folder
({root}) to the same place here, or copy the four files {files} (plain or .gz) into
{folder}."""


def download(names=tuple(_SOURCES)) -> None:
    """Fetch the named datasets (both splits) into the data folder, e.g. when building Binder."""
    for name in names:
        for split in _IDX_FILES:
            data = _load_idx_dataset(name, split, data_dir())
            print(f"{data.name} {split}: {len(data)} images ready")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vae_helpers.data",
                                     description="Fetch the course datasets into the data folder.")
    parser.add_argument("command", choices=["download"])
    parser.add_argument("--dataset", action="append", choices=list(_SOURCES),
                        help="dataset to fetch (repeatable; default: all)")
    args = parser.parse_args(argv)
    try:
        download(tuple(args.dataset or _SOURCES))
    except DatasetNotFoundError as error:
        print(_NO_DOWNLOAD.format(title=error.title, tried="\n".join(f"  {line}" for line in error.tried),
                                  root=data_dir(), files=", ".join(sum(_IDX_FILES.values(), ())),
                                  folder=error.folder), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
