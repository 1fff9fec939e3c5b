"""The OpenAPI document tells the truth about errors: the body actually sent, and the statuses each operation may answer.

FastAPI documents FastAPI's own ``HTTPValidationError`` for 422, which this service never sends (its
handler in ``api.app`` answers ``{"detail": ["body.x: msg", ...]}``), and nothing else. ``document_errors``
rewrites the generated document once: every error response gets the ``ErrorDetail`` body (unless the
route declared a body of its own), and the statuses the routes and their dependencies can raise are
declared by rule (below) plus per operation.
"""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from api.models import ErrorDetail

REASONS = {
    400: "the body cannot be parsed (not JSON, or not a form), or a webhook's signature is missing, wrong or stale",
    401: "not signed in, or the bearer token is invalid or expired",
    403: "the caller's role or scope does not allow this (not your order, not your store, wrong role)",
    404: "no such order, store, product, request or complaint",
    409: "the resource's state does not allow this now (see the reason, or the refusal's code)",
    413: "the body is too large",
    422: "invalid input: one `location: message` string per invalid field, or the reason the input was refused",
    429: "too many failed sign-ins for the account or the address; see Retry-After",
    503: "storage unavailable (Redis down or restarting, or a write's fsync not confirmed): retry shortly, writes with the "
         "same Idempotency-Key; see Retry-After",
}
# operations that look items up by path parameters but never answer 404 (a public rating of an unknown id is empty)
NO_404 = {"store_rating", "courier_rating"}
# writes that cannot conflict with anyone's state
NO_409 = {"sign_in", "quote_delivery", "simulate_payment", "unlock_dropoff_pin"}
EXTRA = {
    "tracking_state": {401},  # the tracking token in the query
    "sign_in": {401, 429},
    "payment_webhook": {400, 413},
    "create_user": {422},  # a store login for an unknown store
    "order_after_sales": {409},  # an order placed with POST /orders has no after-sales
    # a store, product or coupon named in the body or the query that does not exist
    **{op: {404} for op in ("quote_delivery", "create_order", "checkout_quote", "place_order", "create_flash_sale", "search_products")},
}


def statuses(method: str, path: str, op: dict[str, Any]) -> set[int]:
    op_id = op.get("operationId", "")
    out = {503} | EXTRA.get(op_id, set())
    if op.get("security"):
        out |= {401, 403}
    if "{" in path and op_id not in NO_404:
        out.add(404)
    if method == "post" and op_id not in NO_409:
        out.add(409)
    if op.get("parameters") or op.get("requestBody"):
        out.add(422)
    if op.get("requestBody"):
        out.add(400)  # FastAPI's own answer to a body it cannot parse
    return out


def declared(response: dict[str, Any]) -> bool:
    """A route that declared its own error body (``/health``'s 503 is a ``Health`` or the storage ``ErrorDetail``) keeps it."""
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return bool(schema) and schema.get("$ref", "").rsplit("/", 1)[-1] not in ("HTTPValidationError", "ErrorDetail")


def document_errors(app: FastAPI) -> None:
    generate = app.openapi
    done: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        if done:
            return done[0]
        doc = generate()
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        body = ErrorDetail.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(body.pop("$defs", {}))
        schemas["ErrorDetail"] = body
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorDetail"}}}
        for path, item in doc.get("paths", {}).items():
            for method, op in item.items():
                responses = op.setdefault("responses", {})
                for status in statuses(method, path, op):
                    responses.setdefault(str(status), {"description": REASONS[status]})
                for status, response in responses.items():
                    if status[0] in "45":
                        if not declared(response):
                            response["content"] = content
                        if response.get("description") in (None, "", "Validation Error"):
                            response["description"] = REASONS.get(int(status), "error")
        done.append(doc)
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
