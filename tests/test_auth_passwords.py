"""Passwords: argon2id for new hashes, the original's bcrypt hashes still verify and are
upgraded, the rules for usernames and passwords, the random admin password."""

from __future__ import annotations

import argon2
import bcrypt
import pytest

from rls.auth.passwords import (
    Argon2Params,
    Passwords,
    check_password,
    check_username,
    random_password,
)
from rls.errors import InvalidValue

FAST = Argon2Params(time_cost=1, memory_kib=8, parallelism=1)


@pytest.fixture(scope="module")
def passwords():
    return Passwords(FAST)


def go_bcrypt(password: str, prefix: str = "$2a$") -> str:
    """A bcrypt hash as the original (Go's x/crypto/bcrypt) wrote it."""
    return prefix + bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()[4:]


def test_new_hashes_are_argon2id_with_the_configured_parameters(passwords):
    params = argon2.extract_parameters(passwords.hash("correct horse"))
    assert params.type is argon2.Type.ID
    assert (params.time_cost, params.memory_cost, params.parallelism) == (1, 8, 1)


def test_default_parameters_are_argon2_cffis_recommended_ones():
    assert Argon2Params() == Argon2Params(time_cost=3, memory_kib=65536, parallelism=4)


def test_the_same_password_hashes_differently_each_time(passwords):
    assert passwords.hash("correct horse") != passwords.hash("correct horse")


def test_argon2_hash_verifies_only_its_password(passwords):
    stored = passwords.hash("correct horse")
    assert passwords.verify(stored, "correct horse")
    assert not passwords.verify(stored, "correct horsE")


@pytest.mark.parametrize("prefix", ["$2a$", "$2b$", "$2y$"])
def test_bcrypt_hashes_from_the_original_verify(passwords, prefix):
    stored = go_bcrypt("hunter22", prefix)
    assert passwords.verify(stored, "hunter22")
    assert not passwords.verify(stored, "hunter23")


def test_bcrypt_ignores_bytes_past_72_as_the_original_did(passwords):
    long = "p" * 72
    stored = go_bcrypt(long)
    assert passwords.verify(stored, long + "anything")


@pytest.mark.parametrize("stored", ["", "hunter22", "$argon2id$garbage", "$2a$garbage", "$2b$04$" + "x" * 53])
def test_a_stored_value_that_is_not_a_hash_never_verifies(passwords, stored):
    assert not passwords.verify(stored, "hunter22")
    assert not passwords.verify(stored, stored)


def test_bcrypt_hashes_need_a_rehash(passwords):
    assert passwords.needs_rehash(go_bcrypt("hunter22"))


def test_current_argon2_hashes_do_not_need_a_rehash(passwords):
    assert not passwords.needs_rehash(passwords.hash("hunter22"))


def test_argon2_hashes_with_other_parameters_need_a_rehash(passwords):
    older = Passwords(Argon2Params(time_cost=2, memory_kib=8, parallelism=1)).hash("hunter22")
    assert passwords.needs_rehash(older)


def test_bcrypt_fallback_hash_fits_the_originals_column(passwords):
    stored = passwords.hash_bcrypt("hunter22")
    assert len(stored) <= 72 and stored.startswith("$2b$12$")


def test_bcrypt_fallback_refuses_passwords_it_cannot_hash(passwords):
    with pytest.raises(InvalidValue, match="at most 72 bytes"):
        passwords.hash_bcrypt("é" * 37)


def test_argon2_length_is_the_length_of_a_hash(passwords):
    assert passwords.argon2_length == len(passwords.hash("x"))


def test_dummy_verification_is_an_argon2_verification_and_always_false(passwords, monkeypatch):
    seen = []
    real = Passwords.verify
    monkeypatch.setattr(Passwords, "verify", lambda self, stored, pw: seen.append(stored) or real(self, stored, pw))
    assert passwords.verify_dummy("anything") is False
    assert len(seen) == 1 and seen[0].startswith("$argon2id$")


@pytest.mark.parametrize("username", ["a", "alice", "x" * 32, "Zoë", "bob smith", "a.b@c-d_e"])
def test_valid_usernames(username):
    check_username(username)


@pytest.mark.parametrize("username", ["", "x" * 33, "a\tb", "a\nb", "a\x00", "a\u202eb", " alice", "alice "])
def test_invalid_usernames_are_refused_with_the_rule(username):
    with pytest.raises(InvalidValue, match="username must be 1 to 32 characters"):
        check_username(username)


def test_short_password_is_refused_with_the_rule():
    with pytest.raises(InvalidValue, match="password must be at least 8 characters"):
        check_password("1234567", min_length=8)


def test_minimum_password_length_is_configurable():
    check_password("1234", min_length=4)
    with pytest.raises(InvalidValue, match="at least 12"):
        check_password("12345678901", min_length=12)


def test_password_with_nul_is_refused():
    with pytest.raises(InvalidValue, match="NUL"):
        check_password("abcdefgh\x00", min_length=8)


def test_random_admin_password_is_long_and_different_each_time():
    generated = {random_password() for _ in range(50)}
    assert len(generated) == 50
    assert all(len(p) >= 16 and p.isalnum() and p.isascii() for p in generated)
