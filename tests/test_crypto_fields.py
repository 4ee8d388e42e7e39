import base64

import pytest
from cryptography.exceptions import InvalidTag
from hypothesis import given
from hypothesis import strategies as st

from custos.crypto import keyring
from custos.crypto.fields import PREFIX, KeyMissing, Keys


def fresh_keyring() -> dict:
    data: dict = {}
    keyring.ensure_data_keys(data)
    return data


KEYS = Keys.from_keyring(fresh_keyring())


@given(st.text(min_size=1, max_size=200))
def test_seal_open_round_trip_and_no_plaintext(value):
    sealed = KEYS.seal(value, "parties.id_no")
    assert sealed.startswith(PREFIX)
    assert KEYS.open_(sealed, "parties.id_no") == value
    if len(value.encode()) >= 8:  # a short byte string may occur in random bytes by chance
        assert value.encode() not in base64.b64decode(sealed.split(":", 2)[2])


def test_same_value_encrypts_differently_but_indexes_the_same():
    a, b = KEYS.seal("440106199001011234", "parties.id_no"), KEYS.seal("440106199001011234", "parties.id_no")
    assert a != b
    assert KEYS.blind_index("440106199001011234", "parties.id_no") == KEYS.blind_index(
        "440106199001011234", "parties.id_no"
    )
    assert KEYS.blind_index("440106199001011234", "parties.id_no") != KEYS.blind_index(
        "440106199001011234", "parties.mobile"
    )


def test_ciphertext_moved_to_another_column_does_not_open():
    sealed = KEYS.seal("13812345678", "parties.mobile")
    with pytest.raises(InvalidTag):
        KEYS.open_(sealed, "parties.phone")


def test_empty_stays_empty():
    assert KEYS.seal("", "parties.email") == ""
    assert KEYS.open_("", "parties.email") == ""
    assert KEYS.blind_index("", "parties.email") == ""


def test_rotation_keeps_old_values_readable_and_seals_with_the_new_key():
    data = fresh_keyring()
    old = Keys.from_keyring(data)
    sealed_old = old.seal("广州市天河区体育西路1号", "parties.address")
    data["data_keys"].append(keyring.new_data_key())
    new = Keys.from_keyring(data)
    assert new.open_(sealed_old, "parties.address") == "广州市天河区体育西路1号"
    assert new.key_id_of(new.seal("x", "parties.address")) == data["data_keys"][-1]["id"]
    assert new.key_id_of(sealed_old) == data["data_keys"][0]["id"]
    # the blind index key is not rotated with data keys: searches keep working
    assert old.blind_index("13812345678", "parties.mobile") == new.blind_index(
        "13812345678", "parties.mobile"
    )


def test_unknown_key_and_empty_keyring_are_clear_errors():
    other = Keys.from_keyring(fresh_keyring())
    with pytest.raises(KeyMissing):
        other.open_(KEYS.seal("x", "parties.email"), "parties.email")
    with pytest.raises(KeyMissing, match="custos init"):
        Keys.from_keyring({})


def test_keyring_file_is_written_mode_600(tmp_path):
    path = tmp_path / "keyring.json"
    with keyring.editing(path) as data:
        keyring.ensure_data_keys(data)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert Keys.from_keyring(keyring.read(path)).current_id == keyring.read(path)["data_keys"][0]["id"]
