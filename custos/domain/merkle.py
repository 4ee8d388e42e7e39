"""Merkle tree of RFC 9162 (Certificate Transparency v2), section 2.1: the hash of a log, inclusion
proofs and consistency proofs, and their verification. Pure functions over SHA-256 leaf hashes.

The tree over n leaves is the left-balanced tree of the RFC: MTH(D[n]) splits at k, the largest
power of two smaller than n. `CompactRange` computes the same root incrementally in O(log n) memory,
so a log of millions of entries is hashed in one streaming pass.
"""

import hashlib
from collections.abc import Iterable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """Largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH over leaf hashes, as the RFC defines it recursively."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = _split(n)
    return node_hash(root(leaves[:k]), root(leaves[k:]))


def perfect_root(leaves: Sequence[bytes]) -> bytes:
    """MTH of a perfect tree (len(leaves) a power of two), hashed level by level."""
    sha256 = hashlib.sha256
    level = leaves
    while len(level) > 1:
        pairs = iter(level)
        level = [sha256(b"\x01" + left + right).digest() for left, right in zip(pairs, pairs, strict=True)]
    return level[0]


class CompactRange:
    """Incremental MTH: the perfect subtrees covering leaves [0, size), largest first."""

    __slots__ = ("size", "hashes")

    def __init__(self, size: int = 0, hashes: Iterable[bytes] = ()):
        self.size = size
        self.hashes = list(hashes)
        if len(self.hashes) != bin(size).count("1"):
            raise ValueError("compact range does not match its size")

    def append(self, leaf: bytes) -> None:
        h = leaf
        size = self.size
        while size & 1:  # merge with the equal-sized perfect subtree on the left
            h = node_hash(self.hashes.pop(), h)
            size >>= 1
        self.hashes.append(h)
        self.size += 1

    def extend(self, leaves: Sequence[bytes]) -> None:
        """Append many leaves at once: the largest aligned perfect subtrees first, each hashed level by
        level (the same tree as appending one by one, in far fewer Python steps)."""
        i, n = 0, len(leaves)
        while i < n:
            block = self.size & -self.size or 1 << 62  # the largest subtree that may start here
            while block > n - i:
                block >>= 1
            self._append_subtree(perfect_root(leaves[i : i + block]), block)
            i += block

    def _append_subtree(self, h: bytes, block: int) -> None:
        """Append the root of a perfect subtree of `block` leaves (a power of two dividing size)."""
        units = self.size // block
        while units & 1:
            h = node_hash(self.hashes.pop(), h)
            units >>= 1
        self.hashes.append(h)
        self.size += block

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        h = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            h = node_hash(left, h)
        return h


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 2.1.3.1."""
    n = len(leaves)
    if not 0 <= index < n:
        raise IndexError("leaf index outside the tree")
    if n == 1:
        return []
    k = _split(n)
    if index < k:
        return [*inclusion_proof(index, leaves[:k]), root(leaves[k:])]
    return [*inclusion_proof(index - k, leaves[k:]), root(leaves[:k])]


def consistency_proof(first: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 9162 2.1.4.1, for 0 < m <= n."""
    if not 0 < first <= len(leaves):
        raise ValueError("first tree size must be between 1 and the tree size")

    def subproof(m: int, d: Sequence[bytes], complete: bool) -> list[bytes]:
        n = len(d)
        if m == n:
            return [] if complete else [root(d)]
        k = _split(n)
        if m <= k:
            return [*subproof(m, d[:k], complete), root(d[k:])]
        return [*subproof(m - k, d[k:], False), root(d[:k])]

    return subproof(first, leaves, True)


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root_hash: bytes) -> bool:
    """RFC 9162 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root_hash


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 2.1.4.2."""
    if first > second or first < 1:
        return False
    if first == second:
        return not proof and first_root == second_root
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # exact power of two
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0
