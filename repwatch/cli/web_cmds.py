"""`repwatch serve` (the dashboard), `repwatch user ...` and `repwatch token ...`.

FastAPI, uvicorn and argon2 are imported inside the commands: the rest of the CLI stays quick."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from repwatch.cli.terminal import echo
from repwatch.cli.app import Context, cli, handle_errors, pass_ctx

ROLES = ("viewer", "agent", "admin")


def _config(ctx: Context):
    """The config file when it exists (strictly validated); the defaults when there is none, so
    `make demo` then `repwatch serve` works in an empty directory."""
    if Path(ctx.config_path).exists():
        return ctx.config
    from repwatch.config import parse_config

    echo(f"note: {ctx.config_path} not found; serving with default settings", err=True)
    return parse_config({"web": {"secret_key": "${REPWATCH_SECRET_KEY:-}"}}, "<defaults>")


def _db(ctx: Context, config):
    from storage import Database, default_url

    return Database(ctx.database_url or default_url(config.database))


@cli.command("serve")
@click.option("--host", default=None, help="Address to listen on (default: web.host, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: web.port, 8080).")
@pass_ctx
@handle_errors
def serve(ctx: Context, host: str | None, port: int | None) -> None:
    """Run the dashboard and JSON API. Creates the first admin (password printed once) if there are no users."""
    import uvicorn

    from repwatch.web.app import create_app
    from repwatch.web.users import ensure_first_admin

    config = _config(ctx)
    db = _db(ctx, config)
    with db.session() as s:
        password = ensure_first_admin(s, config.web.first_admin)
    if password:
        echo(f"created the first admin user {config.web.first_admin!r} with password: {password}")
        echo("  (shown once; log in and change it under Account, then add the team with `repwatch user add`)")
    host = host or config.web.host
    port = port or config.web.port
    echo(f"repwatch dashboard on http://{host}:{port}/  (database {db.safe_url})", err=False)
    sys.stdout.flush()
    # The login throttle counts per client address: behind a reverse proxy that address comes from
    # X-Forwarded-For, trusted only from the proxies named in web.forwarded_allow_ips.
    uvicorn.run(create_app(db, config), host=host, port=port, log_level="warning", server_header=False,
                proxy_headers=True, forwarded_allow_ips=config.web.forwarded_allow_ips)


@cli.group("user")
def user_group() -> None:
    """Dashboard users: viewer (read only), agent (works tickets), admin (users, silences, sources)."""


@user_group.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of generating one.")
@pass_ctx
@handle_errors
def user_add(ctx: Context, name: str, role: str, password_stdin: bool) -> None:
    """Create a user. Without --password-stdin a password is generated and printed once."""
    from repwatch.web.users import UserError, create_user

    given = sys.stdin.readline().rstrip("\n") if password_stdin else None
    with _db(ctx, _config(ctx)).session() as s:
        try:
            user, password = create_user(s, name, role, given)
        except UserError as exc:
            raise click.ClickException(str(exc)) from None
    echo(f"created {role} {user.name!r}" + ("" if given else f" with password: {password}"))


@user_group.command("list")
@pass_ctx
@handle_errors
def user_list(ctx: Context) -> None:
    """List users and their roles."""
    from sqlalchemy import select

    from storage.models import User

    with _db(ctx, _config(ctx)).session() as s:
        for u in s.scalars(select(User).order_by(User.name)):
            echo(f"{u.name:<24} {u.role:<7} {'disabled' if u.disabled else 'active'}")


@user_group.command("set")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES))
@click.option("--disable/--enable", "disabled", default=None, help="Lock the user out, or let them back in.")
@click.option("--reset-password", is_flag=True, help="Generate a new password and print it once.")
@pass_ctx
@handle_errors
def user_set(ctx: Context, name: str, role: str | None, disabled: bool | None, reset_password: bool) -> None:
    """Change a user's role, disable or enable them, or reset their password."""
    from sqlalchemy import select

    from repwatch.web.users import end_sessions, new_password, set_password
    from storage.models import User

    with _db(ctx, _config(ctx)).session() as s:
        user = s.scalar(select(User).where(User.name == name))
        if user is None:
            raise click.ClickException(f"no user {name!r}; see `repwatch user list`")
        if role:
            user.role = role
        if disabled is not None:
            user.disabled = disabled
            if disabled:
                end_sessions(user)
        password = new_password() if reset_password else None
        if password:
            set_password(user, password)
    echo(f"{name}: role {user.role}, {'disabled' if user.disabled else 'active'}"
         + (f", new password: {password}" if password else ""))


@cli.group("token")
def token_group() -> None:
    """API tokens for integrations (Authorization: Bearer ...). Only a hash is stored."""


@token_group.command("create")
@click.option("--user", "user_name", required=True, help="The token acts as this user, with their role.")
@click.option("--name", required=True, help="What it is for, e.g. jira-sync.")
@pass_ctx
@handle_errors
def token_create(ctx: Context, user_name: str, name: str) -> None:
    """Create a token and print it once."""
    from sqlalchemy import select

    from repwatch.web.users import UserError, create_token
    from storage.models import User

    with _db(ctx, _config(ctx)).session() as s:
        user = s.scalar(select(User).where(User.name == user_name))
        if user is None:
            raise click.ClickException(f"no user {user_name!r}; see `repwatch user list`")
        try:
            row, token = create_token(s, user, name)
        except UserError as exc:
            raise click.ClickException(str(exc)) from None
        token_id = row.id
    echo(f"token #{token_id} for {user_name} ({name}); shown once:\n{token}")


@token_group.command("list")
@pass_ctx
@handle_errors
def token_list(ctx: Context) -> None:
    """List tokens (never their values)."""
    from sqlalchemy import select

    from storage.models import ApiToken, User

    from storage.timefmt import local_time

    config = _config(ctx)
    with _db(ctx, config).session() as s:
        for t, user in s.execute(select(ApiToken, User.name).join(User, User.id == ApiToken.user_id).order_by(ApiToken.id)):
            used = local_time(t.last_used_at, config.tz, missing="never")
            echo(f"#{t.id:<4} {t.name:<24} user {user:<16} last used {used}")


@token_group.command("revoke")
@click.argument("token_id", type=int)
@pass_ctx
@handle_errors
def token_revoke(ctx: Context, token_id: int) -> None:
    """Revoke (delete) a token by its number."""
    from storage.models import ApiToken

    with _db(ctx, _config(ctx)).session() as s:
        row = s.get(ApiToken, token_id)
        if row is None:
            raise click.ClickException(f"no token #{token_id}; see `repwatch token list`")
        s.delete(row)
    echo(f"revoked token #{token_id}")
