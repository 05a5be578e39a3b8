"""What the Chinese chat robots (DingTalk, WeCom, Feishu) share: they answer HTTP 200 with an error
code in the JSON body, and a few of those codes mean "too fast, try later"."""
from __future__ import annotations

import httpx

from alerts.notify.base import Delivered, Failed, Outcome, Retryable


def robot_outcome(result, *, code_keys: tuple[str, ...], retry_codes: set[int], service: str) -> Outcome:
    if not isinstance(result, httpx.Response):
        return result
    try:
        data = result.json()
    except ValueError:
        return Failed(f"{service}: answer is not JSON: {result.text[:200]!r}")
    code = next((data[k] for k in code_keys if k in data), None)
    if code in (0, None):
        return Delivered(f"{service}: ok")
    message = data.get("errmsg") or data.get("msg") or data.get("StatusMessage") or ""
    error = f"{service}: error {code}: {message}"
    return Retryable(error) if code in retry_codes else Failed(error)
