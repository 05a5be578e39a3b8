from __future__ import annotations

from repwatch.cli.terminal import echo
from repwatch.cli.app import Context, cli, handle_errors, pass_ctx


@cli.command("demo")
@pass_ctx
@handle_errors
def demo(ctx: Context) -> None:
    """Run the whole pipeline offline on bundled real posts (what `make demo` runs).

    Serves sample feeds from a loopback HTTP server, collects them twice (the second pass gets 304s
    and stores nothing twice), scores them, opens tickets and emails a loopback SMTP server."""
    from repwatch.demo import run_demo

    run_demo(ctx.database_url, echo=echo)
