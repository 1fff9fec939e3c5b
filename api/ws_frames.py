"""Client frames of the WebSocket endpoints: reading one off the socket and validating it.

Every failure is an answer, never a dead socket: a binary frame, text that is not JSON (or nested
too deeply to parse), an unknown ``type`` or an invalid field each become the (code, detail, ref)
of an ``error`` frame (``docs/websocket-protocol.md``).
"""
from __future__ import annotations

import json

from fastapi import WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field, ValidationError

MAX_SEQ = 2**53 - 1  # the largest ``after`` taken: a JSON number every client reads exactly
Refusal = tuple[str, str, str | None]


class ClientFrame(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str
    id: str | None = Field(None, max_length=64)


class Answer(ClientFrame):
    offer: str = Field(min_length=1, max_length=128)


class Ping(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)
    at: float | None = None


class LocationFrame(ClientFrame, Ping):
    pass


class Locations(ClientFrame):
    points: list[Ping] = Field(min_length=1, max_length=100)


class Pickup(ClientFrame):
    orders: list[str] = Field(min_length=1, max_length=20)


class Dropoff(ClientFrame):
    order: str = Field(min_length=1, max_length=64)
    pin: str = Field(pattern=r"^\d{4}$")


class Resume(ClientFrame):
    after: int = Field(ge=0, le=MAX_SEQ)


COURIER_FRAMES: dict[str, type[ClientFrame]] = {
    "accept": Answer, "decline": Answer, "location": LocationFrame, "locations": Locations,
    "pickup": Pickup, "dropoff": Dropoff, "resume": Resume, "ping": ClientFrame, "pong": ClientFrame,
}
VIEWER_FRAMES: dict[str, type[ClientFrame]] = {"resume": Resume, "ping": ClientFrame, "pong": ClientFrame}


async def receive(ws: WebSocket) -> str | None:
    """The next client frame's text; None for a binary frame. Raises ``WebSocketDisconnect`` when the client left."""
    message = await ws.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
    return message.get("text")


def parse(text: str | None, kinds: dict[str, type[ClientFrame]], max_bytes: int) -> ClientFrame | Refusal:
    """A client frame, or (code, detail, ref) for the error frame that answers it (``text`` None: a binary frame)."""
    if text is None:
        return "binary_frame", "frames are JSON text; binary frames are not taken", None
    if len(text.encode()) > max_bytes:
        return "too_large", f"frames are at most {max_bytes} bytes", None
    try:
        raw = json.loads(text)
    except RecursionError:
        return "bad_json", "JSON nested too deeply", None
    except ValueError:
        return "bad_json", "not JSON", None
    if not isinstance(raw, dict):
        return "bad_json", "a frame is a JSON object", None
    ref = raw.get("id") if isinstance(raw.get("id"), str) else None
    kind = raw.get("type")
    model = kinds.get(kind) if isinstance(kind, str) else None
    if model is None:
        return "unknown_type", f"type must be one of {', '.join(sorted(kinds))}", ref
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        detail = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'frame'}: {e['msg']}" for e in exc.errors())
        return "bad_frame", detail, ref
