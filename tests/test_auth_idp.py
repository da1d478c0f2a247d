"""Tokens of identity providers (Supabase, OIDC): keys from a JWKS file or URL, audience,
issuer, the user claim, the admin claim — and the attacks: algorithm confusion, none,
embedded keys, wrong audience or issuer, expired, unknown kid, oversized or unreachable
key sets. Keys are generated here; the URL is served by a local http.server thread."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from rls.auth.authenticator import AdminCache, Authenticator
from rls.auth.jwks import JwksKeys, file_loader, parse_jwks, url_loader
from rls.auth.store import Standing as StandingRow
from rls.auth.tokens import AdminClaim, Tokens
from rls.config import Config, ConfigError, load_config, validate
from rls.errors import InvalidToken, Unavailable
from tests.authkit import SECRET, login, make_app
from tests.client import Client

AUD = "authenticated"
ISS = "https://project.supabase.co/auth/v1"
UUID = "8f9c1c1e-5b0c-4a53-9d87-2f1f0b6d1a11"

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
ED_KEY = ed25519.Ed25519PrivateKey.generate()
OTHER_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk(key: Any, kid: str, alg: str | None = None) -> dict[str, Any]:
    public = key.public_key()
    algorithm = RSAAlgorithm if isinstance(public, rsa.RSAPublicKey) else ECAlgorithm
    if isinstance(public, ed25519.Ed25519PublicKey):
        algorithm = OKPAlgorithm
    data = dict(algorithm.to_jwk(public, as_dict=True))
    data["kid"] = kid
    if alg:
        data["alg"] = alg
    return data


JWKS = {"keys": [jwk(RSA_KEY, "rsa1"), jwk(EC_KEY, "ec1"), jwk(ED_KEY, "ed1"), jwk(RSA_KEY, "ps1", "PS256")]}


def claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": UUID, "aud": AUD, "iss": ISS, "role": "authenticated", "exp": now + 60, "iat": now, **extra}


def sign(payload: dict[str, Any], key: Any = RSA_KEY, algorithm: str = "RS256", kid: str | None = "rsa1") -> str:
    return jwt.encode(payload, key, algorithm=algorithm, headers={"kid": kid} if kid else None)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_signed(header: dict[str, Any], payload: dict[str, Any], secret: bytes) -> str:
    """A token signed with HMAC by hand (pyjwt refuses to use a PEM key as a secret)."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    return f"{signing_input}.{b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


class Loader:
    """A key set source that counts its fetches and can fail or change."""

    def __init__(self, document: Any = JWKS):
        self.document = document
        self.calls = 0
        self.fail = False

    def __call__(self) -> bytes:
        self.calls += 1
        if self.fail:
            from rls.auth.jwks import JwksError

            raise JwksError("down")
        return json.dumps(self.document).encode()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_tokens(loader: Any = None, *, secret: str = SECRET, **kw: Any) -> Tokens:
    keys = JwksKeys(loader or Loader(), ttl=300, refetch_interval=30, clock=kw.pop("clock", time.monotonic))
    options = {"user_id_claim": "sub", "audience": (AUD,), "issuer": ISS, **kw}
    return Tokens(secret, keys=keys, **options)


def assert_invalid(tokens: Tokens, token: str) -> None:
    with pytest.raises(InvalidToken):
        tokens.verify(token)


# -- accepted -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "algorithm", "kid"),
    [(RSA_KEY, "RS256", "rsa1"), (EC_KEY, "ES256", "ec1"), (ED_KEY, "EdDSA", "ed1"), (RSA_KEY, "PS256", "ps1")],
    ids=["RS256", "ES256", "EdDSA", "PS256"],
)
def test_idp_token_signed_by_a_jwks_key_is_accepted(key, algorithm, kid):
    verified = make_tokens().verify_token(sign(claims(email="a@example.com"), key, algorithm, kid))
    assert (verified.user.id, verified.user.is_admin, verified.external) == (UUID, False, True)
    assert verified.user.claims["email"] == "a@example.com"
    assert verified.user.claims["role"] == "authenticated"


def test_idp_token_with_aud_list_holding_the_audience_is_accepted():
    assert make_tokens().verify(sign(claims(aud=["other", AUD]))).id == UUID


def test_idp_hs256_token_of_a_shared_secret_still_verifies_with_audience():
    # Supabase's legacy tokens: HS256 with the project's JWT secret.
    tokens = make_tokens()
    assert tokens.verify(jwt.encode(claims(), SECRET, algorithm="HS256")).id == UUID


def test_idp_login_tokens_carry_the_configured_audience_and_issuer():
    tokens = make_tokens(user_id_claim="user_id")
    token = tokens.issue(7, is_admin=False)
    assert jwt.decode(token, SECRET, algorithms=["HS256"], audience=AUD)["iss"] == ISS
    assert tokens.verify(token).id == 7


def test_idp_token_without_aud_is_accepted_when_no_audience_is_configured():
    tokens = Tokens(SECRET, user_id_claim="sub")
    assert tokens.verify(jwt.encode(claims(), SECRET, algorithm="HS256")).id == UUID


# -- attacks ----------------------------------------------------------------------------


def test_idp_hs256_signed_with_the_rsa_public_key_is_refused():
    # Algorithm confusion: the public key (known to everyone) used as an HMAC secret.
    pem = RSA_KEY.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    token = hand_signed({"alg": "HS256", "typ": "JWT", "kid": "rsa1"}, claims(), pem)
    assert_invalid(make_tokens(), token)
    assert_invalid(make_tokens(secret=""), token)


def test_idp_hs256_token_is_refused_without_a_secret():
    assert_invalid(make_tokens(secret=""), jwt.encode(claims(), SECRET, algorithm="HS256"))


def test_idp_alg_none_is_refused():
    token = hand_signed({"alg": "none", "kid": "rsa1"}, claims(), b"")
    assert_invalid(make_tokens(), token.rpartition(".")[0] + ".")


def test_idp_key_verifies_only_its_own_algorithm():
    # rsa1 is an RS256 key: a PS256 token naming it is refused, though the key is RSA.
    assert_invalid(make_tokens(), sign(claims(), RSA_KEY, "PS256", "rsa1"))
    assert_invalid(make_tokens(), sign(claims(), RSA_KEY, "RS256", "ec1"))


def test_idp_token_without_kid_needs_exactly_one_key_of_its_algorithm():
    two = Loader({"keys": [jwk(RSA_KEY, "rsa1"), jwk(OTHER_RSA, "rsa2")]})
    assert_invalid(make_tokens(two), sign(claims(), kid=None))
    assert make_tokens().verify(sign(claims(), EC_KEY, "ES256", kid=None)).id == UUID  # one EC key


@pytest.mark.parametrize("kid", [1, ["rsa1"], {"k": 1}], ids=repr)
def test_idp_kid_that_is_not_text_is_refused(kid):
    # pyjwt will not write such a header: sign it by hand, validly, with the RSA key.
    signing_input = f"{b64(json.dumps({'alg': 'RS256', 'kid': kid}).encode())}.{b64(json.dumps(claims()).encode())}"
    signature = RSAAlgorithm(RSAAlgorithm.SHA256).sign(signing_input.encode(), RSA_KEY)
    assert_invalid(make_tokens(), f"{signing_input}.{b64(signature)}")


def test_idp_embedded_key_in_the_token_header_is_ignored():
    attacker = jwk(OTHER_RSA, "rsa1")
    token = jwt.encode(claims(), OTHER_RSA, algorithm="RS256", headers={"kid": "rsa1", "jwk": attacker})
    assert_invalid(make_tokens(), token)


def test_idp_token_signed_by_another_key_is_refused():
    assert_invalid(make_tokens(), sign(claims(), OTHER_RSA))


@pytest.mark.parametrize(
    "payload",
    [claims(aud="other"), claims(aud=["a", "b"]), {k: v for k, v in claims().items() if k != "aud"}],
    ids=["wrong", "list-without", "missing"],
)
def test_idp_token_of_another_audience_is_refused(payload):
    assert_invalid(make_tokens(), sign(payload))


@pytest.mark.parametrize(
    "payload", [claims(iss="https://evil.example"), {k: v for k, v in claims().items() if k != "iss"}], ids=repr
)
def test_idp_token_of_another_issuer_is_refused(payload):
    assert_invalid(make_tokens(), sign(payload))


def test_idp_expired_token_is_refused():
    assert_invalid(make_tokens(), sign(claims(exp=int(time.time()) - 3600)))


def test_idp_token_without_the_user_claim_is_refused():
    # Supabase's anon key carries no sub: it names no user.
    payload = claims()
    del payload["sub"]
    assert_invalid(make_tokens(), sign(payload))


def test_idp_unknown_kid_refetches_at_most_once_per_interval():
    loader, clock = Loader(), Clock()
    tokens = make_tokens(loader, clock=clock, cache_size=0)
    tokens.verify(sign(claims()))
    assert loader.calls == 1
    clock.now += 31  # past the refetch interval: one refetch, still unknown
    for _ in range(5):
        assert_invalid(tokens, sign(claims(), OTHER_RSA, kid="rotated"))
    assert loader.calls == 2


def test_idp_rotated_key_is_accepted_after_a_refetch():
    loader, clock = Loader({"keys": [jwk(RSA_KEY, "rsa1")]}), Clock()
    tokens = make_tokens(loader, clock=clock)
    tokens.verify(sign(claims()))
    loader.document = {"keys": [jwk(RSA_KEY, "rsa1"), jwk(OTHER_RSA, "rsa2")]}
    clock.now += 31
    assert tokens.verify(sign(claims(), OTHER_RSA, kid="rsa2")).id == UUID
    assert loader.calls == 2


def test_idp_expired_key_set_that_cannot_be_refreshed_refuses_tokens():
    loader, clock = Loader(), Clock()
    tokens = make_tokens(loader, clock=clock, cache_size=0)
    token = sign(claims())
    tokens.verify(token)
    loader.fail = True
    clock.now += 301  # the set expired; the source is down: fail closed
    with pytest.raises(Unavailable):
        tokens.verify(token)
    clock.now += 1  # no retry within the refetch interval, still refused
    with pytest.raises(Unavailable):
        tokens.verify(token)
    assert loader.calls == 2


def test_idp_key_set_failure_within_its_ttl_keeps_the_current_keys():
    loader, clock = Loader(), Clock()
    tokens = make_tokens(loader, clock=clock, cache_size=0)
    tokens.verify(sign(claims()))
    loader.fail = True
    clock.now += 31
    assert_invalid(tokens, sign(claims(), OTHER_RSA, kid="new"))  # refetch fails
    assert tokens.verify(sign(claims())).id == UUID  # the keys still current verify


def test_idp_oversized_jwks_file_refuses_tokens(tmp_path):
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({**JWKS, "padding": "x" * 5000}))
    tokens = Tokens(SECRET, keys=JwksKeys(file_loader(str(path), max_bytes=4096)), user_id_claim="sub")
    with pytest.raises(Unavailable):
        tokens.verify(sign(claims()))


def test_idp_jwks_file_serves_keys(tmp_path):
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(JWKS))
    tokens = Tokens(SECRET, keys=JwksKeys(file_loader(str(path), max_bytes=65536)), user_id_claim="sub")
    assert tokens.verify(sign(claims())).id == UUID


def test_idp_weak_symmetric_and_encryption_keys_are_not_used():
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    document = {
        "keys": [
            jwk(weak, "weak"),
            {**jwk(RSA_KEY, "enc"), "use": "enc"},
            {"kty": "oct", "k": b64(b"s" * 32), "kid": "hmac", "alg": "HS256"},
            {**jwk(EC_KEY, "wrongcurve"), "alg": "ES384"},
        ]
    }
    with pytest.raises(Exception, match="no usable signing key"):
        parse_jwks(json.dumps(document).encode())
    keys = parse_jwks(json.dumps({"keys": [*document["keys"], jwk(RSA_KEY, "ok")]}).encode())
    assert [k.kid for k in keys] == ["ok"]


# -- the principal --------------------------------------------------------------------


class Standing:
    def __init__(self) -> None:
        self.asked: list[int] = []

    def __call__(self, user_id: int) -> StandingRow | None:
        self.asked.append(user_id)
        return StandingRow(True, None)  # every auth_users id is an admin here


def test_idp_token_with_an_id_of_an_auth_users_admin_is_not_admin():
    standing = Standing()
    authenticator = Authenticator(make_tokens(), AdminCache(standing, ttl=0))
    user = authenticator.authenticate("Bearer " + sign(claims(sub=1, is_admin=True)))
    # The provider's subject 1 is text: another issuer's ids never equal auth_users ids.
    assert (user.id, user.is_admin, standing.asked) == ("1", False, [])


def test_idp_admin_claim_makes_an_admin_only_when_configured():
    token = "Bearer " + sign(claims(role="service_role"))
    plain = Authenticator(make_tokens(), AdminCache(Standing(), ttl=0))
    assert plain.authenticate(token).is_admin is False
    configured = Authenticator(make_tokens(admin=AdminClaim("role", "service_role")), AdminCache(Standing(), ttl=0))
    assert configured.authenticate(token).is_admin is True
    assert configured.authenticate("Bearer " + sign(claims())).is_admin is False


def test_idp_admin_claim_matches_a_list_member_exactly():
    tokens = make_tokens(admin=AdminClaim("groups", "admin"))
    assert tokens.verify(sign(claims(groups=["staff", "admin"]))).is_admin is True
    assert tokens.verify(sign(claims(groups=["administrators"]))).is_admin is False
    assert tokens.verify(sign(claims(groups="admin "))).is_admin is False


def test_idp_hs_token_with_an_integer_id_still_checks_auth_users():
    standing = Standing()
    tokens = Tokens(SECRET, admin=AdminClaim("role", "service_role"))
    token = jwt.encode({"user_id": 5, "is_admin": True, "exp": int(time.time()) + 60}, SECRET, algorithm="HS256")
    user = Authenticator(tokens, AdminCache(standing, ttl=0)).authenticate("Bearer " + token)
    assert (user.is_admin, standing.asked) == (True, [5])


# -- configuration --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"jwks_url": "https://idp.example/jwks"}, "auth.audience"),
        ({"jwks_url": "http://idp.example/jwks", "audience": (AUD,)}, "https"),
        ({"jwks_url": "https://a/jwks", "jwks_file": "/k.json", "audience": (AUD,)}, "not both"),
        ({"admin_claim": "role"}, "together"),
        ({"admin_claim": "user_id", "admin_claim_value": "x"}, "must not be"),
    ],
    ids=["no-audience", "plain-http", "both", "claim-without-value", "admin-claim-is-id"],
)
def test_idp_config_refuses_unsafe_settings(overrides, message):
    with pytest.raises(ConfigError, match=message):
        validate(Config(**overrides))


def test_idp_settings_load_from_nested_yaml(tmp_path):
    path = tmp_path / "rest.yml"
    path.write_text(
        "auth:\n  audience: [authenticated, api]\n  issuer: https://x.supabase.co/auth/v1\n"
        "  jwks_url: https://x.supabase.co/auth/v1/.well-known/jwks.json\n"
        "rest:\n  rpc_functions: [search, stats]\n"
    )
    config = load_config(str(path), environ={})
    assert config.audience == ("authenticated", "api")
    assert config.rpc_functions == ("search", "stats")
    assert load_config(environ={"REST_AUTH_AUDIENCE": "a, b", "REST_AUTH_JWKS_FILE": "/k.json"}).audience == ("a", "b")


def test_idp_config_auth_with_a_jwks_needs_no_secret():
    validate(Config(auth_enabled=True, jwks_url="http://127.0.0.1:9/jwks", audience=(AUD,)))


# -- a JWKS URL -----------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, tuple[int, bytes, dict[str, str]]]] = {}

    def do_GET(self) -> None:
        status, body, headers = self.routes.get(self.path, (404, b"", {}))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def idp() -> Iterator[str]:
    _Handler.routes = {
        "/jwks": (200, json.dumps(JWKS).encode(), {"Content-Type": "application/json"}),
        "/huge": (200, json.dumps({**JWKS, "pad": "x" * 300_000}).encode(), {}),
        "/moved": (302, b"", {"Location": "/jwks"}),
        "/broken": (500, b"", {}),
    }
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def url_tokens(url: str) -> Tokens:
    keys = JwksKeys(url_loader(url, timeout=2, max_bytes=262_144))
    return Tokens(SECRET, keys=keys, user_id_claim="sub", audience=(AUD,))


def test_idp_jwks_url_serves_keys(idp):
    assert url_tokens(f"{idp}/jwks").verify(sign(claims(), EC_KEY, "ES256", "ec1")).id == UUID


@pytest.mark.parametrize("path", ["/huge", "/moved", "/broken", "/missing"])
def test_idp_jwks_url_that_fails_refuses_tokens(idp, path):
    with pytest.raises(Unavailable):
        url_tokens(f"{idp}{path}").verify(sign(claims()))


def test_idp_jwks_url_that_does_not_answer_refuses_tokens():
    with pytest.raises(Unavailable):
        url_tokens("http://127.0.0.1:9/jwks").verify(sign(claims()))


# -- over HTTP, with policies over the claims -------------------------------------------


def test_idp_token_over_http_is_a_principal_from_its_claims(backend, make_database_url, tmp_path):
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(JWKS))
    app = make_app(
        make_database_url(backend),
        auth_enabled=True,
        policy_refresh_interval=0.0,
        jwks_file=str(path),
        audience=(AUD,),
        issuer=ISS,
        user_id_claim="sub",
    )
    try:
        anonymous = Client(app)
        password = anonymous.post("/auth/setup").json["Password"]
        dialect = app.db.dialect
        create = "CREATE TABLE notes (id {serial}, owner {string}, team {string}, title {string}){table_options}"
        insert = "INSERT INTO notes (owner, team, title) VALUES (?, ?, ?)".replace("?", dialect.PLACEHOLDER)
        rows = [(UUID, "red", "mine"), ("someone-else", "red", "team's"), ("someone-else", "blue", "hidden")]
        app.db.run(lambda s: [s.execute(create.format_map(dialect.DDL_TYPES)), *(s.execute(insert, r) for r in rows)],
                   write=True)  # fmt: skip
        app.db.refresh_schema()
        admin = Client(app, login(anonymous, "rest_admin", password))
        policy = {
            "table_name": "notes",
            "action": "read",
            "expression": "owner = auth_user.id OR team = auth_user.team",
        }
        assert admin.post("/auth_policies", {**policy, "description": "own or team"}).status == 200
        user = Client(app, sign(claims(team="red", is_admin=True)))
        assert user.get("/whoami").json == {
            "id": UUID,
            "is_admin": False,
            "claims": {k: v for k, v in claims(team="red").items() if k != "sub"},
        }
        assert sorted(r["title"] for r in user.get("/notes").json) == ["mine", "team's"]
        assert user.get("/auth_users").status == 403  # admin-only: the is_admin claim grants nothing
        stranger = Client(app, sign(claims(aud="another-app")))
        assert stranger.get("/notes").status == 401
    finally:
        app.db.close()
