"""Writes the small CIFAR-10 python-batch fixtures under tests/data/.

tests/data/cifar-10-batches-py/: data_batch_1, data_batch_2, test_batch and
batches.meta as torchvision's download holds them (dicts with bytes keys
b'batch_label', b'labels', b'data' (N x 3072 uint8), b'filenames'), written
by Python 3's pickle at protocol 2 with 4 images each.

tests/data/cifar-10-batches-py2/data_batch_1: the same kind of batch in the
opcodes Python 2's cPickle wrote the original files with (protocol 2, str as
SHORT_BINSTRING/BINSTRING, the array's raw bytes in one BINSTRING), emitted
opcode by opcode since Python 3 cannot write Python 2 strings.

Every file is loaded back with pickle.load(f, encoding='bytes') and checked
against the arrays it was made from. Pixels are a fixed function of
(image, byte), labels cycle through the classes: the Rust tests recompute
both.

Usage: python scripts/make_cifar_pickle_fixtures.py  (needs numpy)
"""

import pickle
import struct
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent / "tests" / "data"
PIXELS = 3072


def batch(first, n):
    """Images first..first+n: byte j of image i is (7 i + 13 j) mod 256."""
    i = np.arange(first, first + n, dtype=np.int64)[:, None]
    j = np.arange(PIXELS, dtype=np.int64)[None, :]
    data = ((7 * i + 13 * j) % 256).astype(np.uint8)
    labels = [int((first + k) % 10) for k in range(n)]
    return data, labels


def py3_batch(path, label, first, n):
    data, labels = batch(first, n)
    obj = {
        b"batch_label": label.encode(),
        b"labels": labels,
        b"data": data,
        b"filenames": [f"image_{first + k:05d}.png".encode() for k in range(n)],
    }
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)
    return data, labels


class Py2:
    """Emits protocol-2 opcodes as Python 2's cPickle wrote them."""

    def __init__(self):
        self.out = bytearray(b"\x80\x02")
        self.memo = 0

    def put(self):
        self.memo += 1
        self.out += b"q" + bytes([self.memo])

    def string(self, s):
        b = s if isinstance(s, bytes) else s.encode()
        if len(b) < 256:
            self.out += b"U" + bytes([len(b)]) + b
        else:
            self.out += b"T" + struct.pack("<i", len(b)) + b
        self.put()

    def int(self, v):
        if 0 <= v < 256:
            self.out += b"K" + bytes([v])
        elif 0 <= v < 65536:
            self.out += b"M" + struct.pack("<H", v)
        else:
            self.out += b"J" + struct.pack("<i", v)

    def glob(self, module, name):
        self.out += b"c" + module.encode() + b"\n" + name.encode() + b"\n"
        self.put()

    def array(self, data):
        self.glob("numpy.core.multiarray", "_reconstruct")
        self.glob("numpy", "ndarray")
        self.int(0)
        self.out += b"\x85"
        self.put()
        self.string("b")
        self.out += b"\x87"
        self.put()
        self.out += b"R"
        self.put()
        self.out += b"("
        self.int(1)
        self.int(data.shape[0])
        self.int(data.shape[1])
        self.out += b"\x86"
        self.put()
        self.glob("numpy", "dtype")
        self.string("u1")
        self.int(0)
        self.int(1)
        self.out += b"\x87"
        self.put()
        self.out += b"R"
        self.put()
        self.out += b"("
        self.int(3)
        self.string("|")
        self.out += b"NNN"
        self.int(-1)
        self.int(-1)
        self.int(0)
        self.out += b"t"
        self.put()
        self.out += b"b"
        self.out += b"\x89"
        self.string(data.tobytes())
        self.out += b"t"
        self.put()
        self.out += b"b"

    def strings(self, items):
        self.out += b"]"
        self.put()
        self.out += b"("
        for s in items:
            self.string(s)
        self.out += b"e"

    def ints(self, items):
        self.out += b"]"
        self.put()
        self.out += b"("
        for v in items:
            self.int(v)
        self.out += b"e"


def py2_batch(path, label, first, n):
    data, labels = batch(first, n)
    p = Py2()
    p.out += b"}"
    p.put()
    p.out += b"("
    p.string("data")
    p.array(data)
    p.string("labels")
    p.ints(labels)
    p.string("batch_label")
    p.string(label)
    p.string("filenames")
    p.strings([f"image_{first + k:05d}.png" for k in range(n)])
    p.out += b"u."
    path.write_bytes(bytes(p.out))
    return data, labels


def check(path, data, labels):
    with open(path, "rb") as f:
        d = pickle.load(f, encoding="bytes")
    assert d[b"labels"] == labels, path
    assert d[b"data"].dtype == np.uint8 and d[b"data"].shape == data.shape, path
    assert (d[b"data"] == data).all(), path


def main():
    py = ROOT / "cifar-10-batches-py"
    py.mkdir(parents=True, exist_ok=True)
    for name, label, first in [
        ("data_batch_1", "training batch 1 of 5", 0),
        ("data_batch_2", "training batch 2 of 5", 4),
        ("test_batch", "testing batch 1 of 1", 100),
    ]:
        check(py / name, *py3_batch(py / name, label, first, 4))
    meta = {
        b"num_cases_per_batch": 4,
        b"label_names": [
            s.encode()
            for s in "airplane automobile bird cat deer dog frog horse ship truck".split()
        ],
        b"num_vis": PIXELS,
    }
    with open(py / "batches.meta", "wb") as f:
        pickle.dump(meta, f, protocol=2)
    py2 = ROOT / "cifar-10-batches-py2"
    py2.mkdir(parents=True, exist_ok=True)
    check(py2 / "data_batch_1", *py2_batch(py2 / "data_batch_1", "training batch 1 of 5", 0, 4))
    print("fixtures written under", ROOT)


if __name__ == "__main__":
    main()
