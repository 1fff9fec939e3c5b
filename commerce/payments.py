"""Payments: signed webhooks and a simulated provider.

A payment provider tells the platform about an outcome by POSTing a webhook; anyone can POST, so
the body is trusted only when its ``O2O-Signature`` header verifies. The header is
``t=<unix s>,v1=<hex>`` where the hex is HMAC-SHA256 over ``f"{t}.{body}"`` with the shared secret:
the timestamp is inside the MAC so an old delivery cannot be replayed with a fresh ``t``, and a
tolerance window bounds how long a captured request stays useful. During a secret rotation the
provider sends one ``v1`` per live secret, and the platform may hold several secrets too; any match
verifies. Comparisons use ``hmac.compare_digest`` so timing says nothing about the right MAC.

Every webhook carries a unique event id: providers retry deliveries, so the platform de-duplicates
on it (and the points ledger refuses a second earn for the same order anyway).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from commerce.errors import CommerceError

SIGNATURE_HEADER = "O2O-Signature"
SCHEME = "v1"
DEFAULT_TOLERANCE_S = 300
OUTCOMES = ("succeeded", "failed")

Secrets = str | Sequence[str]


def _secrets(secret: Secrets) -> tuple[str, ...]:
    """One secret or several (rotation); never none and never empty, so nothing verifies by accident."""
    found = (secret,) if isinstance(secret, str) else tuple(secret)
    if not found or any(not isinstance(s, str) or not s for s in found):
        raise CommerceError("bad_secret", "a webhook secret must be a non-empty string")
    return found


def _mac(body: bytes, secret: str, t: int) -> str:
    return hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def sign(body: bytes, secret: Secrets, at: int) -> str:
    """The header value for ``body`` sent at unix second ``at``; several secrets give several ``v1``."""
    if not isinstance(body, bytes | bytearray):
        raise CommerceError("bad_payload", "a webhook body is signed as bytes, exactly as sent")
    t = int(at)
    return ",".join([f"t={t}"] + [f"{SCHEME}={_mac(bytes(body), s, t)}" for s in _secrets(secret)])


def _parse(header: str | None) -> tuple[int, list[str]]:
    if not header or not header.strip():
        raise CommerceError("bad_signature", f"the {SIGNATURE_HEADER} header is missing")
    t: int | None = None
    macs: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise CommerceError("bad_signature", f"the {SIGNATURE_HEADER} header is malformed")
        if key == "t":
            if t is not None or not value.isascii() or not value.isdigit():
                raise CommerceError("bad_signature", f"the {SIGNATURE_HEADER} header has a bad timestamp")
            t = int(value)
        elif key == SCHEME:
            macs.append(value)
        # other schemes (v0, future ones) are ignored, as providers do
    if t is None:
        raise CommerceError("bad_signature", f"the {SIGNATURE_HEADER} header has no timestamp")
    if not macs:
        raise CommerceError("bad_signature", f"the {SIGNATURE_HEADER} header has no {SCHEME} signature")
    return t, macs


def verify(body: bytes, header: str | None, secret: Secrets, now: int, tolerance_s: int = DEFAULT_TOLERANCE_S) -> None:
    """Accept ``body`` only if some ``v1`` matches some secret and ``t`` is within ``tolerance_s`` of ``now``.

    The MAC is checked before the age, so "stale" is only ever said of a genuine signature.
    """
    if tolerance_s < 0:
        raise CommerceError("bad_tolerance", "the signature tolerance cannot be negative")
    keys = _secrets(secret)
    t, macs = _parse(header)
    expected = [_mac(bytes(body), s, t).encode() for s in keys]
    matched = False
    for given in macs:
        for want in expected:  # no early exit: the work done does not depend on which one matched
            matched |= hmac.compare_digest(want, given.encode())
    if not matched:
        raise CommerceError("bad_signature", "no webhook signature matches the body with a known secret")
    if abs(int(now) - t) > tolerance_s:
        raise CommerceError("stale_signature", f"the webhook was signed at {t}, {int(now) - t} s from now; tolerance is {tolerance_s} s")


@dataclass(frozen=True)
class PaymentIntent:
    """One attempt to collect ``amount_cents`` for an order; the id is unguessable so it can appear in URLs."""

    id: str
    order_id: str
    amount_cents: int
    created_at: float


@dataclass(frozen=True)
class WebhookEvent:
    """A verified webhook: ``id`` is what the platform de-duplicates retries on."""

    id: str
    type: str
    created: int
    intent_id: str
    order_id: str
    amount_cents: int
    failure_code: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.type == "payment.succeeded"


def parse_webhook(body: bytes, header: str | None, secret: Secrets, now: int, tolerance_s: int = DEFAULT_TOLERANCE_S) -> WebhookEvent:
    """Verify, then read the body; nothing from an unverified body is ever parsed."""
    verify(body, header, secret, now, tolerance_s)
    try:
        data = json.loads(body)
        event = WebhookEvent(
            id=str(data["id"]), type=str(data["type"]), created=int(data["created"]),
            intent_id=str(data["intent"]), order_id=str(data["order_id"]), amount_cents=int(data["amount_cents"]),
            failure_code=data.get("failure_code"),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise CommerceError("bad_payload", f"the webhook body is not a payment event ({exc.__class__.__name__})") from exc
    if event.type not in {f"payment.{o}" for o in OUTCOMES}:
        raise CommerceError("bad_payload", f"unknown webhook event type {event.type!r}")
    return event


class SimulatedProvider:
    """A stand-in payment provider: creates intents and produces the signed webhooks a real one would send.

    ``secret`` may be several secrets (newest first) to simulate a rotation: each webhook then
    carries one ``v1`` per secret.
    """

    def __init__(self, secret: Secrets) -> None:
        self.secrets = _secrets(secret)
        self._intents: dict[str, PaymentIntent] = {}

    def create(self, order_id: str, amount_cents: int, now: float) -> PaymentIntent:
        if isinstance(amount_cents, bool) or not isinstance(amount_cents, int) or amount_cents <= 0:
            raise CommerceError("invalid_amount", f"order {order_id}: a payment must be a positive number of cents, not {amount_cents!r}")
        intent = PaymentIntent(f"pi_{secrets.token_urlsafe(18)}", order_id, amount_cents, now)
        self._intents[intent.id] = intent
        return intent

    def adopt(self, intent: PaymentIntent) -> PaymentIntent:
        """Take over an intent recorded elsewhere: a stateless API worker reloads it from Redis to sign its webhook."""
        if isinstance(intent.amount_cents, bool) or not isinstance(intent.amount_cents, int) or intent.amount_cents <= 0:
            raise CommerceError("invalid_amount", f"order {intent.order_id}: a payment must be a positive number of cents")
        self._intents[intent.id] = intent
        return intent

    def intent(self, intent_id: str) -> PaymentIntent:
        try:
            return self._intents[intent_id]
        except KeyError:
            raise CommerceError("unknown_intent", f"payment intent {intent_id} was not created here") from None

    def webhook(self, intent: PaymentIntent, outcome: Literal["succeeded", "failed"] = "succeeded",
                now_s: int | None = None) -> tuple[bytes, dict[str, str]]:
        """The body and headers of a fresh event (new event id) for ``intent``'s ``outcome``."""
        if outcome not in OUTCOMES:
            raise CommerceError("bad_outcome", f"a payment outcome is one of {OUTCOMES}, not {outcome!r}")
        if self._intents.get(intent.id) != intent:
            raise CommerceError("unknown_intent", f"payment intent {intent.id} was not created here")
        at = int(time.time()) if now_s is None else int(now_s)
        event: dict[str, Any] = {
            "id": f"evt_{secrets.token_urlsafe(18)}",
            "type": f"payment.{outcome}",
            "created": at,
            "intent": intent.id,
            "order_id": intent.order_id,
            "amount_cents": intent.amount_cents,
        }
        if outcome == "failed":
            event["failure_code"] = "card_declined"
        body = json.dumps(event, separators=(",", ":"), sort_keys=True).encode()
        return body, {SIGNATURE_HEADER: sign(body, self.secrets, at)}

    def resend(self, body: bytes, now_s: int | None = None) -> tuple[bytes, dict[str, str]]:
        """A retry: the same body (same event id) signed afresh, as providers redeliver."""
        at = int(time.time()) if now_s is None else int(now_s)
        return body, {SIGNATURE_HEADER: sign(body, self.secrets, at)}
