"""TokenVerifier and find_token: JWTs signed by real keys, refused for each reason PyJWT
knows, and the places a client may put one."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from stompbox.security.principal import AuthenticationFailed, Principal
from stompbox.security.tokens import TokenVerifier, find_token

SECRET = "a test secret of at least thirty-two bytes"


def pem(key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def claims(**extra: Any) -> dict[str, Any]:
    return {"sub": "alice", "exp": int(time.time()) + 60, **extra}


def hs256(payload: dict[str, Any], key: str | bytes = SECRET) -> str:
    return jwt.encode(payload, key, algorithm="HS256")


def refusal(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(AuthenticationFailed) as info:
        verifier.verify(token)
    return str(info.value)


class TestVerify:
    verifier = TokenVerifier(secret=SECRET)

    def test_hs256_token_names_its_subject(self) -> None:
        assert self.verifier.verify(hs256(claims())) == Principal("alice", via="jwt")

    def test_rs256_token_with_the_public_key(self, rsa_key: rsa.RSAPrivateKey) -> None:
        verifier = TokenVerifier(public_key=pem(rsa_key.public_key()))
        assert verifier.algorithms == ("RS256",)
        token = jwt.encode(claims(roles=["admin"]), rsa_key, algorithm="RS256")
        assert verifier.verify(token) == Principal("alice", frozenset({"admin"}), via="jwt")

    def test_es256_is_the_default_for_a_p256_key(self) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        verifier = TokenVerifier(public_key=pem(key.public_key()))
        assert verifier.algorithms == ("ES256",)
        assert verifier.verify(jwt.encode(claims(), key, algorithm="ES256")).name == "alice"

    def test_expired(self) -> None:
        token = hs256(claims(exp=int(time.time()) - 10))
        assert refusal(self.verifier, token) == "token expired"

    def test_leeway_forgives_a_little_clock_skew(self) -> None:
        token = hs256(claims(exp=int(time.time()) - 10))
        assert TokenVerifier(secret=SECRET, leeway=30).verify(token).name == "alice"

    def test_exp_is_required(self) -> None:
        assert refusal(self.verifier, hs256({"sub": "alice"})) == "token lacks the 'exp' claim"

    def test_not_yet_valid(self) -> None:
        token = hs256(claims(nbf=int(time.time()) + 600))
        assert refusal(self.verifier, token).startswith("token not yet valid")

    def test_bad_signature(self) -> None:
        token = hs256(claims(), key="another secret of at least thirty-two bytes")
        assert refusal(self.verifier, token) == "token has a bad signature"

    def test_tampered_payload_is_a_bad_signature(self) -> None:
        header, _, signature = hs256(claims()).split(".")
        forged = base64.urlsafe_b64encode(json.dumps(claims(sub="root")).encode()).rstrip(b"=")
        token = f"{header}.{forged.decode()}.{signature}"
        assert refusal(self.verifier, token) == "token has a bad signature"

    def test_garbage_is_an_invalid_token(self) -> None:
        assert refusal(self.verifier, "not a token").startswith("invalid token")

    def test_audience(self) -> None:
        verifier = TokenVerifier(secret=SECRET, audience="stompbox")
        assert verifier.verify(hs256(claims(aud="stompbox"))).name == "alice"
        assert "another audience" in refusal(verifier, hs256(claims(aud="billing")))
        assert refusal(verifier, hs256(claims())) == "token lacks the 'aud' claim"

    def test_a_token_for_an_audience_is_refused_without_one(self) -> None:
        assert "another audience" in refusal(self.verifier, hs256(claims(aud="billing")))

    def test_issuer(self) -> None:
        verifier = TokenVerifier(secret=SECRET, issuer="https://id.example.com")
        assert verifier.verify(hs256(claims(iss="https://id.example.com"))).name == "alice"
        assert "another issuer" in refusal(verifier, hs256(claims(iss="https://evil.example")))
        assert refusal(verifier, hs256(claims())) == "token lacks the 'iss' claim"

    def test_alg_none_token_is_refused(self) -> None:
        token = jwt.encode(claims(), "", algorithm="none")
        assert "algorithm not allowed" in refusal(self.verifier, token)

    def test_hs256_signed_with_the_public_key_pem_is_refused(
        self, rsa_key: rsa.RSAPrivateKey
    ) -> None:
        """The key-confusion attack: the public key, which anyone has, as an HMAC secret."""
        public_pem = pem(rsa_key.public_key())
        header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")
        payload = base64.urlsafe_b64encode(json.dumps(claims(sub="root")).encode()).rstrip(b"=")
        signing_input = header + b"." + payload
        mac = hmac.new(public_pem.encode(), signing_input, hashlib.sha256).digest()
        token = (signing_input + b"." + base64.urlsafe_b64encode(mac).rstrip(b"=")).decode()
        verifier = TokenVerifier(public_key=public_pem)
        assert "algorithm not allowed" in refusal(verifier, token)

    @pytest.mark.parametrize(
        ("value", "roles"),
        [
            (["admin", "ops"], {"admin", "ops"}),
            ("admin ops", {"admin", "ops"}),
            ("admin,ops, dev", {"admin", "ops", "dev"}),
            ("", set()),
            (None, set()),
        ],
    )
    def test_roles_claim_as_list_or_string(self, value: object, roles: set[str]) -> None:
        payload = claims() if value is None else claims(roles=value)
        assert self.verifier.verify(hs256(payload)).roles == roles

    def test_roles_claim_of_another_type_is_refused(self) -> None:
        message = refusal(self.verifier, hs256(claims(roles={"admin": True})))
        assert "neither a list of strings nor a string" in message

    def test_principal_and_roles_claims_are_configurable(self) -> None:
        verifier = TokenVerifier(
            secret=SECRET, principal_claim="preferred_username", roles_claim="scope"
        )
        token = hs256(claims(preferred_username="alice@example.com", scope="read write"))
        assert verifier.verify(token) == Principal(
            "alice@example.com", frozenset({"read", "write"}), via="jwt"
        )
        assert "lacks the 'preferred_username' claim" in refusal(verifier, hs256(claims()))

    def test_a_principal_claim_that_is_no_name_is_refused(self) -> None:
        verifier = TokenVerifier(secret=SECRET, principal_claim="uid")
        assert "is not a name" in refusal(verifier, hs256(claims(uid=42)))
        assert "is not a name" in refusal(verifier, hs256(claims(uid="")))


class TestSettings:
    def test_needs_exactly_one_key(self, rsa_key: rsa.RSAPrivateKey) -> None:
        with pytest.raises(ValueError, match="either a secret or a public key"):
            TokenVerifier()
        with pytest.raises(ValueError, match="either a secret or a public key"):
            TokenVerifier(secret=SECRET, public_key=pem(rsa_key.public_key()))

    @pytest.mark.parametrize("algorithm", ["none", "None", "NONE"])
    def test_alg_none_is_refused(self, algorithm: str) -> None:
        with pytest.raises(ValueError, match="unsigned"):
            TokenVerifier(secret=SECRET, algorithms=["HS256", algorithm])

    def test_hmac_with_a_public_key_is_refused(self, rsa_key: rsa.RSAPrivateKey) -> None:
        with pytest.raises(ValueError, match="key confusion"):
            TokenVerifier(public_key=pem(rsa_key.public_key()), algorithms=["RS256", "HS256"])

    def test_public_key_algorithms_with_a_secret_are_refused(self) -> None:
        with pytest.raises(ValueError, match="need a public key"):
            TokenVerifier(secret=SECRET, algorithms=["RS256"])

    def test_short_secret_is_refused(self) -> None:
        with pytest.raises(ValueError, match="HS256: The HMAC key is 5 bytes"):
            TokenVerifier(secret="short")

    def test_small_rsa_key_is_refused(self) -> None:
        small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
        with pytest.raises(ValueError, match="1024 bits"):
            TokenVerifier(public_key=pem(small.public_key()))

    def test_key_of_another_type_than_the_algorithm_is_refused(
        self, rsa_key: rsa.RSAPrivateKey
    ) -> None:
        with pytest.raises(ValueError, match="does not fit ES256"):
            TokenVerifier(public_key=pem(rsa_key.public_key()), algorithms=["ES256"])

    def test_unknown_algorithm_and_empty_list(self, rsa_key: rsa.RSAPrivateKey) -> None:
        with pytest.raises(ValueError, match="unknown JWT algorithm 'XS256'"):
            TokenVerifier(public_key=pem(rsa_key.public_key()), algorithms=["XS256"])
        with pytest.raises(ValueError, match="no algorithms"):
            TokenVerifier(secret=SECRET, algorithms=[])

    def test_not_a_public_key(self, rsa_key: rsa.RSAPrivateKey) -> None:
        private_pem = rsa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        with pytest.raises(ValueError, match="not a PEM public key"):
            TokenVerifier(public_key=private_pem)

    def test_from_files(self, tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
        key_file = tmp_path / "jwt.pem"
        key_file.write_text(pem(rsa_key.public_key()))
        verifier = TokenVerifier.from_files(public_key_file=key_file, audience="stompbox")
        token = jwt.encode(claims(aud="stompbox"), rsa_key, algorithm="RS256")
        assert verifier.verify(token).name == "alice"

        secret_file = tmp_path / "secret"
        secret_file.write_text(SECRET + "\n")
        assert TokenVerifier.from_files(secret_file=secret_file).verify(hs256(claims()))

        with pytest.raises(ValueError, match=r"missing\.pem: cannot read"):
            TokenVerifier.from_files(public_key_file=tmp_path / "missing.pem")
        with pytest.raises(ValueError, match="not both"):
            TokenVerifier.from_files(secret=SECRET, secret_file=secret_file)


TOKEN = hs256(claims())


def scope(*headers: tuple[bytes, bytes], query: bytes = b"") -> dict[str, Any]:
    return {"type": "websocket", "headers": list(headers), "query_string": query}


class TestFindToken:
    def test_authorization_header_of_connect(self) -> None:
        headers = {"authorization": f"Bearer {TOKEN}", "token": "other"}
        assert find_token(None, None, headers, None) == TOKEN
        assert find_token(None, None, {"authorization": f"bearer  {TOKEN} "}, None) == TOKEN

    def test_other_authorization_schemes_are_not_bearer(self) -> None:
        assert find_token(None, None, {"authorization": "Basic YWxpY2U6eA=="}, None) is None

    def test_token_header_of_connect(self) -> None:
        assert find_token(None, None, {"token": TOKEN}, None) == TOKEN

    def test_passcode_that_looks_like_a_jwt(self) -> None:
        assert find_token("alice", TOKEN, {}, None) == TOKEN
        assert find_token("alice", "hunter2", {}, None) is None
        assert find_token("alice", "eyJ.not-a-jwt", {}, None) is None

    def test_login_that_looks_like_a_jwt(self) -> None:
        assert find_token(TOKEN, "", {}, None) == TOKEN

    def test_connect_wins_over_the_handshake(self) -> None:
        handshake = scope((b"authorization", b"Bearer from-handshake"))
        assert find_token(None, TOKEN, {}, handshake) == TOKEN

    def test_handshake_authorization_header(self) -> None:
        handshake = scope((b"cookie", b"access_token=c"), (b"authorization", b"Bearer h"))
        assert find_token(None, None, {}, handshake) == "h"

    def test_handshake_cookie_among_junk(self) -> None:
        handshake = scope((b"cookie", b'junk; =; theme=dark; access_token="c1"; x'))
        assert find_token(None, None, {}, handshake) == "c1"
        handshake = scope((b"cookie", b"a=1"), (b"cookie", b"session=s"))
        assert find_token(None, None, {}, handshake, cookie="session") == "s"

    def test_handshake_query_parameter(self) -> None:
        handshake = scope(query=b"v=1&access_token=q%2Bq&access_token=second")
        assert find_token(None, None, {}, handshake) == "q+q"
        handshake = scope(query=b"jwt=j")
        assert find_token(None, None, {}, handshake, query_parameter="jwt") == "j"

    def test_cookie_wins_over_the_query(self) -> None:
        handshake = scope((b"cookie", b"access_token=c"), query=b"access_token=q")
        assert find_token(None, None, {}, handshake) == "c"

    def test_nothing_anywhere(self) -> None:
        assert find_token(None, None, {}, None) is None
        assert find_token("alice", "secret", {"token": ""}, scope(query=b"x=1")) is None
        assert find_token(None, None, {}, {"type": "websocket"}) is None
