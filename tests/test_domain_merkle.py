"""The Merkle tree of RFC 9162: roots, inclusion and consistency proofs, and that tampering fails."""

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from custos.domain import merkle


def leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(f"entry {i}".encode()) for i in range(n)]


def test_empty_and_single_leaf_roots_follow_the_rfc():
    assert merkle.root([]) == hashlib.sha256(b"").digest()
    one = merkle.leaf_hash(b"a")
    assert one == hashlib.sha256(b"\x00a").digest()
    assert merkle.root([one]) == one


def test_three_leaf_tree_is_left_balanced():
    a, b, c = leaves(3)
    assert merkle.root([a, b, c]) == merkle.node_hash(merkle.node_hash(a, b), c)


@given(st.integers(min_value=0, max_value=300))
def test_compact_range_equals_recursive_root(n):
    hashes = leaves(n)
    cr = merkle.CompactRange()
    for h in hashes:
        cr.append(h)
    assert cr.size == n
    assert cr.root() == merkle.root(hashes)
    # a compact range can be resumed from its stored state
    resumed = merkle.CompactRange(cr.size, cr.hashes)
    resumed.append(merkle.leaf_hash(b"next"))
    assert resumed.root() == merkle.root([*hashes, merkle.leaf_hash(b"next")])


@settings(max_examples=200)
@given(st.data())
def test_inclusion_proofs_verify_and_detect_tampering(data):
    n = data.draw(st.integers(min_value=1, max_value=200))
    i = data.draw(st.integers(min_value=0, max_value=n - 1))
    hashes = leaves(n)
    r = merkle.root(hashes)
    proof = merkle.inclusion_proof(i, hashes)
    assert merkle.verify_inclusion(i, n, hashes[i], proof, r)
    assert not merkle.verify_inclusion(i, n, merkle.leaf_hash(b"forged"), proof, r)
    if n > 1:
        assert not merkle.verify_inclusion((i + 1) % n, n, hashes[i], proof, r)
    if proof:
        bad = list(proof)
        bad[0] = merkle.leaf_hash(b"x")
        assert not merkle.verify_inclusion(i, n, hashes[i], bad, r)
    assert not merkle.verify_inclusion(n, n, hashes[i], proof, r)


@settings(max_examples=200)
@given(st.data())
def test_consistency_proofs_verify_and_detect_rewritten_history(data):
    n = data.draw(st.integers(min_value=1, max_value=200))
    m = data.draw(st.integers(min_value=1, max_value=n))
    hashes = leaves(n)
    proof = merkle.consistency_proof(m, hashes)
    assert merkle.verify_consistency(m, n, merkle.root(hashes[:m]), merkle.root(hashes), proof)
    if m < n:
        rewritten = list(hashes)
        rewritten[m - 1] = merkle.leaf_hash(b"rewritten")
        assert not merkle.verify_consistency(m, n, merkle.root(rewritten[:m]), merkle.root(hashes), proof)
        assert not merkle.verify_consistency(m, n, merkle.root(hashes[:m]), merkle.root(rewritten), proof)


def test_known_consistency_case_from_the_rfc_shape():
    hashes = leaves(7)
    proof = merkle.consistency_proof(3, hashes)
    # PROOF(3, D[7]) = [c, d, g, l] in the RFC's example: four hashes
    assert len(proof) == 4
    assert merkle.verify_consistency(3, 7, merkle.root(hashes[:3]), merkle.root(hashes), proof)


@settings(max_examples=100)
@given(st.lists(st.integers(min_value=0, max_value=300), max_size=6))
def test_compact_range_extend_in_pieces_equals_the_recursive_root(pieces):
    hashes = leaves(sum(pieces))
    cr, i = merkle.CompactRange(), 0
    for n in pieces:
        cr.extend(hashes[i : i + n])
        i += n
        assert cr.size == i and cr.root() == merkle.root(hashes[:i])
    one = merkle.CompactRange()
    for h in hashes:
        one.append(h)
    assert cr.hashes == one.hashes
