"""The `web:` section of schedules.yaml. No FastAPI import here: the config loader reads this module."""
from __future__ import annotations

from datetime import timedelta
from typing import Optional

from pydantic import Field, field_validator

from storage.types import Duration, Strict


class WebSettings(Strict):
    host: str = Field(default="127.0.0.1", description="address `repwatch serve` listens on")
    port: int = Field(default=8080, ge=1, le=65535)
    secret_key: Optional[str] = Field(
        default=None, description="signs session cookies; set it from the environment, e.g. ${REPWATCH_SECRET_KEY}. "
        "Unset: a random key per start, so everyone is logged out when the server restarts")
    session_lifetime: Duration = Field(default=timedelta(hours=12), description="log in again after this long")
    cookie_secure: bool = Field(default=False, description="send the session cookie over HTTPS only")
    refresh_seconds: int = Field(default=60, ge=0, description="queue auto-refresh period; 0 turns it off")
    login_max_failures: int = Field(default=5, ge=1, description="failed logins for one user name from one "
                                    "address before that pair pauses")
    login_max_failures_per_address: int = Field(default=50, ge=1, description="failed logins from one address, "
                                                "over all names, before the address pauses (stops a spray)")
    forwarded_allow_ips: str = Field(default="127.0.0.1", description="reverse proxies whose X-Forwarded-For "
                                     "gives the client address (comma-separated IPs or networks; '*' trusts all)")
    login_lockout: Duration = Field(default=timedelta(minutes=15), description="the pause, and the counting window")
    first_admin: str = Field(default="admin", description="name of the admin created when there are no users")

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and value != "" and len(value) < 32:
            # A short key can be brute-forced offline from one cookie, and then sessions forged.
            raise ValueError("secret_key must be at least 32 characters; generate one with "
                             "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`")
        return value or None
