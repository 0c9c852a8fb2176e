"""Send a notification to a webhook: ntfy, Gotify, Slack/Discord-style, or plain JSON POST.

Each kind gets the body its service documents: ntfy takes the message as the POST body with
``Title``/``Priority``/``Tags`` headers; Gotify ``POST /message`` with ``{title, message,
priority}`` and the app token in ``X-Gotify-Key``; Slack incoming webhooks ``{"text"}``;
Discord ``{"content"}``; ``json`` posts the whole event for your own receiver.
"""

from __future__ import annotations

from typing import Any

from pipeline.clients.http import HttpClient
from pipeline.settings import WEBHOOK_KINDS

_NTFY_PRIORITY = {"error": "high", "warning": "default", "info": "low"}
_GOTIFY_PRIORITY = {"error": 8, "warning": 5, "info": 2}


def build_request(
    kind: str, url: str, event: dict[str, Any], token: str | None = None
) -> tuple[str, dict[str, str], Any, bytes | None]:
    """(url, headers, json body, raw body) for one event; pure so it is easy to test."""
    title, message = str(event["title"]), str(event["message"])
    severity = str(event.get("severity", "error"))
    headers: dict[str, str] = {}
    if kind == "ntfy":
        headers = {
            "Title": title,
            "Priority": _NTFY_PRIORITY.get(severity, "default"),
            "Tags": f"musical_note,{event.get('kind', 'event')}",
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return url, headers, None, message.encode("utf-8")
    if kind == "gotify":
        if token:
            headers["X-Gotify-Key"] = token
        target = url.rstrip("/")
        if not target.endswith("/message"):
            target += "/message"
        body = {"title": title, "message": message, "priority": _GOTIFY_PRIORITY[severity]}
        return target, headers, body, None
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if kind == "slack":
        return url, headers, {"text": f"*{title}*\n{message}"}, None
    if kind == "discord":
        return url, headers, {"content": f"**{title}**\n{message}"[:2000]}, None
    if kind == "json":
        return url, headers, dict(event), None
    raise ValueError(f"unknown webhook kind {kind!r} (one of {', '.join(WEBHOOK_KINDS)})")


def send(
    kind: str, url: str, event: dict[str, Any], token: str | None = None, timeout_s: float = 10
) -> int:
    """POST ``event``; return the HTTP status (raises ``HttpError`` on failure)."""
    target, headers, body, raw = build_request(kind, url, event, token)
    client = HttpClient("webhook", target, "music-tracker", max_retries=1, timeout_s=timeout_s)
    if raw is not None:
        headers = {**headers, "Content-Type": "text/plain; charset=utf-8"}
        response = client.request("POST", target, headers=headers, data=raw)  # type: ignore[arg-type]
    else:
        response = client.request("POST", target, headers=headers, json_body=body)
    return response.status
