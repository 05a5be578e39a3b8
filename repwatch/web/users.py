"""Team members and integration tokens: argon2 password hashes, roles, API tokens stored as hashes."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from repwatch.exceptions import RepwatchError
from storage.models import ApiToken, User

ROLES = ("viewer", "agent", "admin")
RANK = {role: i for i, role in enumerate(ROLES)}
TOKEN_PREFIX = "rw_"
MIN_PASSWORD = 10

_hasher = PasswordHasher()
# Verified against when the user does not exist, so a wrong name costs as long as a wrong password
# and response times do not reveal which names are real.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class UserError(RepwatchError):
    """A user or token request that cannot be carried out; the message says why."""


@dataclass(frozen=True)
class Principal:
    """Who is asking: a logged-in person, or an integration acting through one of their tokens."""

    id: int
    name: str
    role: str
    via_token: bool = False

    def can(self, role: str) -> bool:
        return RANK[self.role] >= RANK[role]


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def new_password() -> str:
    return secrets.token_urlsafe(12)


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"a password needs at least {MIN_PASSWORD} characters")


def create_user(session: Session, name: str, role: str, password: str | None = None) -> tuple[User, str]:
    """Create a user. Returns (user, password); the password is generated when none is given."""
    name = name.strip()
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    if not name or len(name) > 100:
        raise UserError("a user name needs 1 to 100 characters")
    if session.scalar(select(User).where(User.name == name)) is not None:
        raise UserError(f"user {name!r} already exists")
    password = password or new_password()
    check_password_rules(password)
    user = User(name=name, password_hash=hash_password(password), role=role, disabled=False)
    session.add(user)
    session.flush()
    return user, password


def set_password(user: User, password: str) -> None:
    """A new password ends every session opened with the old one (a stolen cookie included)."""
    check_password_rules(password)
    user.password_hash = hash_password(password)
    end_sessions(user)


def end_sessions(user: User) -> None:
    """Every dashboard session of this user stops working at its next request (see deps.principal)."""
    user.session_version = (user.session_version or 0) + 1


def authenticate(session: Session, name: str, password: str) -> User | None:
    """The user when name and password match and the account is enabled; None otherwise."""
    user = session.scalar(select(User).where(User.name == name.strip()))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user.disabled:
        return None
    if _hasher.check_needs_rehash(user.password_hash):  # argon2 parameters were raised since
        user.password_hash = hash_password(password)
    return user


def ensure_first_admin(session: Session, name: str = "admin") -> str | None:
    """On a database without users, create an admin and return its password (to print once)."""
    if session.scalar(select(func.count(User.id))):
        return None
    _, password = create_user(session, name, "admin")
    return password


def token_hash(token: str) -> str:
    # Tokens are 256 random bits, so a plain SHA-256 cannot be brute-forced; a slow hash (as for
    # passwords) would only add latency to every API call.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, user: User, name: str) -> tuple[ApiToken, str]:
    """A new API token for `user`. Only its hash is stored; the token is returned to show once."""
    if not name.strip() or len(name) > 100:
        raise UserError("a token name needs 1 to 100 characters")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name.strip(), token_hash=token_hash(token))
    session.add(row)
    session.flush()
    return row, token


def principal_for_token(session: Session, token: str, now: datetime) -> Principal | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
    if row is None:
        return None
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        return None
    row.last_used_at = now
    return Principal(user.id, user.name, user.role, via_token=True)


def principal_for_user_id(session: Session, user_id: int, session_version: int | None = None) -> Principal | None:
    """The user of a dashboard session, or None when the user is gone, disabled, or has ended the
    sessions issued under `session_version` (logout, password change)."""
    user = session.get(User, user_id)
    if user is None or user.disabled or session_version != user.session_version:
        return None
    return Principal(user.id, user.name, user.role)
