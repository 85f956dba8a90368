"""Rebuild digits.npz from scikit-learn's bundled copy of the UCI 8x8 digits (run once, offline).

Usage: python tests/engine/make_digits_data.py /path/to/sklearn/datasets/data/digits.csv.gz

Not imported at run time (scikit-learn is not a dependency). The output holds the pixels
(uint8, 0..16), the labels and the fixed train/test split, so the split never depends on the
NumPy version's random streams. See PROVENANCE.md.
"""

from __future__ import annotations

import gzip
import hashlib
import sys
from pathlib import Path

import numpy as np

SPLIT_SEED = 1797  # constant: the split is part of the task, not of a run
TEST_FRACTION = 0.2


def build(csv_gz: Path, out: Path) -> None:
    raw = csv_gz.read_bytes()
    table = np.loadtxt(gzip.decompress(raw).decode().splitlines(), delimiter=",", dtype=np.int64)
    images, labels = table[:, :64], table[:, 64]
    assert images.shape == (1797, 64) and images.min() == 0 and images.max() == 16
    assert set(labels.tolist()) == set(range(10))
    # Stratified 80/20: per class, a fixed shuffle and the first round(20%) go to the test set.
    rng = np.random.default_rng(SPLIT_SEED)
    is_test = np.zeros(len(labels), dtype=bool)
    for digit in range(10):
        members = np.flatnonzero(labels == digit)
        chosen = rng.permutation(members)[: round(TEST_FRACTION * len(members))]
        is_test[chosen] = True
    np.savez_compressed(
        out,
        images=images.astype(np.uint8),
        labels=labels.astype(np.uint8),
        is_test=is_test,
    )
    print(f"source sha256 {hashlib.sha256(raw).hexdigest()}")
    print(f"wrote {out} ({out.stat().st_size} bytes), test samples {int(is_test.sum())}")
    # The zip container embeds timestamps; the content checksum is the stable one.
    content = images.astype(np.uint8).tobytes() + labels.astype(np.uint8).tobytes()
    print(f"content sha256 (images + labels bytes) {hashlib.sha256(content).hexdigest()}")
    print(f"split sha256 (is_test bytes) {hashlib.sha256(is_test.tobytes()).hexdigest()}")


if __name__ == "__main__":
    build(Path(sys.argv[1]), Path(__file__).resolve().parents[2] / "engine" / "data" / "digits.npz")
