"""Dataset files in the IDX format MNIST ships in, written for tests that must find a dataset."""
import gzip
import struct


def write_idx(path, array, compress):
    header = bytes([0, 0, 0x08, array.dim()]) + b"".join(struct.pack(">I", s) for s in array.shape)
    payload = header + array.numpy().tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress:
        with gzip.open(path.with_name(path.name + ".gz"), "wb") as handle:
            handle.write(payload)
    else:
        path.write_bytes(payload)
