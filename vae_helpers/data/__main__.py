"""``python -m vae_helpers.data download``: fetch the course datasets into the data folder.

Run it once with a network on a machine that will be offline later (a lab, an exam, a Binder
image). Offline, it says in a few lines what is missing and how to fix it, and exits with 1.
"""
import argparse
import sys

from . import _IDX_FILES, _SOURCES, DatasetNotFoundError, _load_cifar10, _load_idx_dataset, colour, data_dir

DOWNLOADABLE = (*_SOURCES, "cifar10")

_NO_DOWNLOAD = """python -m vae_helpers.data download: could not download {title}. Tried:
{tried}
This command needs a network. Either run it once on a machine with one and copy its data folder
({root}) to the same place here, or copy its files ({files}) into
{folder}."""


def download(names=DOWNLOADABLE) -> None:
    """Fetch the named datasets (both splits) into the data folder, e.g. when building Binder."""
    for name in names:
        for split in _IDX_FILES:
            data = _load_cifar10(split, data_dir()) if name == "cifar10" else _load_idx_dataset(name, split, data_dir())
            print(f"{data.name} {split}: {len(data)} images ready")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vae_helpers.data",
                                     description="Fetch the course datasets into the data folder.")
    parser.add_argument("command", choices=["download"])
    parser.add_argument("--dataset", action="append", choices=list(DOWNLOADABLE),
                        help="dataset to fetch (repeatable; default: all)")
    args = parser.parse_args(argv)
    try:
        download(tuple(args.dataset or DOWNLOADABLE))
    except DatasetNotFoundError as error:
        files = (", ".join(sum(colour.CIFAR10_FILES.values(), ())) if error.title == "CIFAR-10"
                 else ", ".join(sum(_IDX_FILES.values(), ())))
        print(_NO_DOWNLOAD.format(title=error.title, tried="\n".join(f"  {line}" for line in error.tried),
                                  root=data_dir(), files=files, folder=error.folder), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
