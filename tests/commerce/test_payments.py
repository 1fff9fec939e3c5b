"""Webhook signatures and the simulated provider: what verifies, what is refused and with which code.

Expected MACs are computed here with ``hmac`` directly (not via ``commerce.payments``), so a wrong
message layout in ``sign`` is caught rather than mirrored.
"""
from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from commerce.errors import CommerceError
from commerce.payments import (
    SIGNATURE_HEADER,
    PaymentIntent,
    SimulatedProvider,
    parse_webhook,
    sign,
    verify,
)

SECRET = "whsec_current"
OLD = "whsec_previous"
BODY = b'{"id":"evt_1","type":"payment.succeeded"}'
T = 1_700_000_000


def code_of(call) -> str:
    with pytest.raises(CommerceError) as info:
        call()
    return info.value.code


def verifies(body: bytes, header: str, secret, now: int) -> bool:
    """True when ``verify`` accepts the webhook (it returns nothing and raises on refusal)."""
    try:
        verify(body, header, secret, now=now)
    except CommerceError:
        return False
    return True


def test_sign_format_is_t_and_v1_over_t_dot_body() -> None:
    header = sign(BODY, SECRET, T)
    want = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert header == f"t={T},v1={want}"


def test_genuine_signature_verifies_inside_the_window() -> None:
    header = sign(BODY, SECRET, T)
    assert verifies(BODY, header, SECRET, now=T)
    assert verifies(BODY, header, SECRET, now=T + 300)  # edge of the default tolerance
    assert verifies(BODY, header, SECRET, now=T - 300)  # a little clock skew the other way
    assert not verifies(BODY, header, SECRET, now=T + 301)


def test_tampered_body_is_bad_signature() -> None:
    header = sign(BODY, SECRET, T)
    tampered = BODY.replace(b"succeeded", b"failed")
    assert code_of(lambda: verify(tampered, header, SECRET, now=T)) == "bad_signature"
    assert code_of(lambda: verify(BODY + b" ", header, SECRET, now=T)) == "bad_signature"


def test_tampered_signature_is_bad_signature() -> None:
    header = sign(BODY, SECRET, T)
    last = header[-1]
    flipped = header[:-1] + ("0" if last != "0" else "1")
    assert code_of(lambda: verify(BODY, flipped, SECRET, now=T)) == "bad_signature"
    truncated = header[:-2]
    assert code_of(lambda: verify(BODY, truncated, SECRET, now=T)) == "bad_signature"


def test_tampered_timestamp_is_bad_signature_not_fresh() -> None:
    """Replaying an old MAC with a new ``t`` fails: the timestamp is inside the MAC."""
    old = sign(BODY, SECRET, T)
    mac = old.split("v1=")[1]
    replay = f"t={T + 3600},v1={mac}"
    assert code_of(lambda: verify(BODY, replay, SECRET, now=T + 3600)) == "bad_signature"


def test_wrong_secret_is_bad_signature() -> None:
    header = sign(BODY, "someone-else", T)
    assert code_of(lambda: verify(BODY, header, SECRET, now=T)) == "bad_signature"


def test_stale_and_future_timestamps_are_stale_signature() -> None:
    header = sign(BODY, SECRET, T)
    assert code_of(lambda: verify(BODY, header, SECRET, now=T + 301)) == "stale_signature"
    assert code_of(lambda: verify(BODY, header, SECRET, now=T - 301)) == "stale_signature"
    assert code_of(lambda: verify(BODY, header, SECRET, now=T + 60, tolerance_s=30)) == "stale_signature"
    verify(BODY, header, SECRET, now=T + 3000, tolerance_s=3600)


def test_stale_and_wrong_says_bad_signature() -> None:
    """The MAC is checked first: a forged old header is not reported as merely stale."""
    header = sign(BODY, "someone-else", T)
    assert code_of(lambda: verify(BODY, header, SECRET, now=T + 10_000)) == "bad_signature"


@pytest.mark.parametrize("header", [None, "", "   "])
def test_missing_header_is_bad_signature(header) -> None:
    with pytest.raises(CommerceError) as info:
        verify(BODY, header, SECRET, now=T)
    assert info.value.code == "bad_signature"
    assert "missing" in info.value.detail


@pytest.mark.parametrize("header", [
    "garbage",
    f"v1={'0' * 64}",                      # no timestamp
    f"t={T}",                              # no signature
    f"t=abc,v1={'0' * 64}",                # timestamp not a number
    f"t=-5,v1={'0' * 64}",
    f"t={T},t={T},v1={'0' * 64}",          # two timestamps
    f"t={T},v0={'0' * 64}",                # only an unknown scheme
])
def test_malformed_headers_are_bad_signature(header: str) -> None:
    assert code_of(lambda: verify(BODY, header, SECRET, now=T)) == "bad_signature"


def test_rotated_secret_header_verifies_with_either_secret() -> None:
    """During rotation the provider sends one v1 per secret; a platform on either secret accepts."""
    header = sign(BODY, (SECRET, OLD), T)
    assert header.count("v1=") == 2
    verify(BODY, header, SECRET, now=T)
    verify(BODY, header, OLD, now=T)
    assert code_of(lambda: verify(BODY, header, "retired-long-ago", now=T)) == "bad_signature"


def test_platform_holding_several_secrets_accepts_either_signer() -> None:
    verify(BODY, sign(BODY, OLD, T), [SECRET, OLD], now=T)
    verify(BODY, sign(BODY, SECRET, T), [SECRET, OLD], now=T)
    assert code_of(lambda: verify(BODY, sign(BODY, "x", T), [SECRET, OLD], now=T)) == "bad_signature"


def test_one_good_v1_among_junk_verifies_and_unknown_schemes_are_ignored() -> None:
    good = sign(BODY, SECRET, T).split("v1=")[1]
    assert verifies(BODY, f"t={T},v0=deadbeef,v1={'f' * 64},v1={good}", SECRET, now=T)
    assert not verifies(BODY, f"t={T},v0={good},v1={'f' * 64}", SECRET, now=T)  # the good one under another scheme counts for nothing


@pytest.mark.parametrize("secret", ["", (), ("",)])
def test_empty_secrets_are_refused(secret) -> None:
    assert code_of(lambda: sign(BODY, secret, T)) == "bad_secret"
    assert code_of(lambda: verify(BODY, f"t={T},v1={'0' * 64}", secret, now=T)) == "bad_secret"


def test_verify_uses_constant_time_comparison(monkeypatch) -> None:
    from commerce import payments

    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(payments.hmac, "compare_digest", spy)
    verify(BODY, sign(BODY, SECRET, T), SECRET, now=T)
    assert calls


# -- the simulated provider ------------------------------------------------------------------

def test_intents_have_unguessable_distinct_ids() -> None:
    provider = SimulatedProvider(SECRET)
    ids = {provider.create("o1", 1234, now=1.0).id for _ in range(200)}
    assert len(ids) == 200
    sample = next(iter(ids))
    assert sample.startswith("pi_") and len(sample) >= 3 + 24  # 18 random bytes -> 24 url-safe chars
    intent = provider.create("o1", 1234, now=5.0)
    assert intent == PaymentIntent(intent.id, "o1", 1234, 5.0)
    assert provider.intent(intent.id) is intent


@pytest.mark.parametrize("amount", [0, -100, 12.5, True])
def test_intent_amount_must_be_positive_integer_cents(amount) -> None:
    assert code_of(lambda: SimulatedProvider(SECRET).create("o1", amount, now=0.0)) == "invalid_amount"


@pytest.mark.parametrize("outcome", ["succeeded", "failed"])
def test_webhook_is_signed_json_the_platform_can_verify(outcome: str) -> None:
    provider = SimulatedProvider(SECRET)
    intent = provider.create("o-42", 2599, now=3.0)
    body, headers = provider.webhook(intent, outcome, now_s=T)
    data = json.loads(body)
    assert data["type"] == f"payment.{outcome}"
    assert data["intent"] == intent.id and data["order_id"] == "o-42" and data["amount_cents"] == 2599
    assert data["id"].startswith("evt_")
    assert ("failure_code" in data) == (outcome == "failed")
    verify(body, headers[SIGNATURE_HEADER], SECRET, now=T)
    event = parse_webhook(body, headers[SIGNATURE_HEADER], SECRET, now=T)
    assert event.id == data["id"] and event.intent_id == intent.id and event.order_id == "o-42"
    assert event.amount_cents == 2599 and event.succeeded == (outcome == "succeeded")


def test_each_webhook_has_a_new_event_id_and_a_resend_keeps_it() -> None:
    provider = SimulatedProvider(SECRET)
    intent = provider.create("o1", 100, now=0.0)
    first, _ = provider.webhook(intent, now_s=T)
    second, _ = provider.webhook(intent, now_s=T)
    assert json.loads(first)["id"] != json.loads(second)["id"]
    again, headers = provider.resend(first, now_s=T + 600)
    assert again == first
    assert parse_webhook(again, headers[SIGNATURE_HEADER], SECRET, now=T + 600).id == json.loads(first)["id"]
    # the original header is stale by then; the retry is signed afresh
    _, old_headers = provider.resend(first, now_s=T)
    assert code_of(lambda: verify(first, old_headers[SIGNATURE_HEADER], SECRET, now=T + 600)) == "stale_signature"


def test_webhook_from_wrong_secret_provider_is_refused() -> None:
    provider = SimulatedProvider("not-ours")
    body, headers = provider.webhook(provider.create("o1", 100, now=0.0), now_s=T)
    assert code_of(lambda: parse_webhook(body, headers[SIGNATURE_HEADER], SECRET, now=T)) == "bad_signature"


def test_rotating_provider_signs_with_every_secret() -> None:
    provider = SimulatedProvider([SECRET, OLD])
    body, headers = provider.webhook(provider.create("o1", 100, now=0.0), now_s=T)
    assert verifies(body, headers[SIGNATURE_HEADER], OLD, now=T)  # a platform not yet rotated
    assert verifies(body, headers[SIGNATURE_HEADER], SECRET, now=T)
    assert not verifies(body, headers[SIGNATURE_HEADER], "never-used", now=T)


def test_webhook_refuses_unknown_outcome_and_foreign_intent() -> None:
    provider = SimulatedProvider(SECRET)
    intent = provider.create("o1", 100, now=0.0)
    assert code_of(lambda: provider.webhook(intent, "refunded", now_s=T)) == "bad_outcome"
    forged = PaymentIntent("pi_guess", "o1", 100, 0.0)
    assert code_of(lambda: provider.webhook(forged, now_s=T)) == "unknown_intent"
    inflated = PaymentIntent(intent.id, "o1", 1, 0.0)
    assert code_of(lambda: provider.webhook(inflated, now_s=T)) == "unknown_intent"
    assert code_of(lambda: provider.intent("pi_guess")) == "unknown_intent"


def test_parse_webhook_refuses_a_signed_body_that_is_not_an_event() -> None:
    for body in (b"not json", b'{"id":"evt_1"}', b'{"id":"e","type":"payment.exploded","created":1,"intent":"i","order_id":"o","amount_cents":1}'):
        header = sign(body, SECRET, T)
        assert code_of(lambda body=body, header=header: parse_webhook(body, header, SECRET, now=T)) == "bad_payload"
    # and an unsigned one is never parsed at all
    assert code_of(lambda: parse_webhook(b"not json", None, SECRET, now=T)) == "bad_signature"
