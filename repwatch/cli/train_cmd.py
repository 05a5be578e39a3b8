"""`repwatch train`: rebuild the shipped sentiment models from the shared corpora (sentiment/train.py), with
the team's corrections as extra weighted examples; `--report` measures the models on those corrections."""
from __future__ import annotations

from pathlib import Path

import click

from repwatch.cli.app import Context, cli, handle_errors, pass_ctx
from repwatch.cli.terminal import echo, json_line


def _fmt(p) -> str:
    return "-" if p is None else f"{p:.2f}"


def print_report(report, echo=echo) -> None:
    """The precision table: per category, complaint yes/no and severity."""
    versions = ", ".join(f"{v} ({n})" for v, n in sorted(report.model_versions.items())) or "-"
    echo(f"Precision on the team's corrections: {report.mentions} corrected posts (latest correction each); "
         f"model versions: {versions}")
    for title, rows in (("complaint", report.complaint), ("category", report.categories),
                        ("severity", report.severity)):
        echo(f"{title.upper():<15} {'PREDICTED':>9} {'CORRECT':>8} {'PRECISION':>9} {'MISSED':>7}")
        for p in rows:
            echo(f"  {p.label:<13} {p.predicted:>9} {p.correct:>8} {_fmt(p.precision):>9} {p.missed:>7}")
    echo("PREDICTED: corrected posts the model gave the label; CORRECT: the correction kept it; MISSED: the "
         "correction gives the label, the model did not. Corrections are mostly of mistakes, so these figures "
         "are lower than on a random sample.")


def _corrections_db(ctx: Context):
    """The database with the corrections, or None when there is none yet (a fresh checkout): training must
    not create an empty repwatch.db."""
    from sqlalchemy.engine import make_url

    from storage import default_url

    url = ctx.database_url or default_url(ctx.config.database if ctx._config_loadable() else None)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:" \
            and not Path(parsed.database).exists():
        return None
    return ctx.db


@cli.command("train")
@click.option("--data", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder with the labelled corpora (default ../shared/data/sentiment beside the repository).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write the models (default: sentiment/models in the package).")
@click.option("--sample", type=click.IntRange(min=2), default=None,
              help="Keep every n-th text: a quick check of the training code, not a model to ship.")
@click.option("--corrections-weight", type=click.FloatRange(min=0), default=None,
              help="Weight of each corrected post against 1 for a corpus text (default: training.corrections_weight "
                   "in the config, 3.0); 0 leaves the corrections out.")
@click.option("--report", is_flag=True,
              help="Do not train: show the models' precision per category, for complaint yes/no and per severity, "
                   "measured on the team's corrections (the stored prediction against the correction).")
@click.option("--json", "as_json", is_flag=True, help="With --report: the figures as one JSON object.")
@pass_ctx
@handle_errors
def train(ctx: Context, data: Path | None, out: Path | None, sample: int | None, corrections_weight: float | None,
          report: bool, as_json: bool) -> None:
    """Rebuild the sentiment models (Chinese domain model, English calibration) reproducibly.

    Deduplicates the corpora, splits them by a fixed hash (the test split is never trained on), adds the
    team's corrections (latest per post, weighted), trains and calibrates, and writes
    sentiment/models/zh_sentiment.joblib, en_vader.json and complaint.joblib (complaint, categories, severity).
    Fifteen to twenty-five minutes on one busy core."""
    from repwatch.cli.correction_cmds import corrections_weight as configured_weight
    from storage.corrections import labelled_examples, precision_report

    db = _corrections_db(ctx)
    if report:
        if db is None:
            raise click.ClickException("no database yet, so no corrections to measure on")
        with db.session() as s:
            figures = precision_report(s)
        if as_json:
            echo(json_line(figures.as_dict()))
        else:
            print_report(figures)
        return

    from sentiment import corpora
    from sentiment.train import MODELS_DIR, build

    data = data or corpora.default_data_dir()
    if not data.is_dir():
        raise click.ClickException(f"{data} is not a directory; pass --data with the shared sentiment corpora")
    weight = configured_weight(ctx) if corrections_weight is None else corrections_weight
    extra = []
    if db is not None and weight > 0:
        with db.session() as s:
            extra = labelled_examples(s, weight=weight)
    click.echo(f"corrections: {len(extra)} labelled posts, weight {weight:g}", err=True)
    from repwatch.cli.tables import progress

    with progress(None, "training") as tick:   # a spinner with the current stage when a person watches
        def log(message: str) -> None:
            tick.log(message)
            if not message.startswith(" "):
                tick.describe(message.rstrip(" ."))

        versions = build(data, out or MODELS_DIR, sample=sample, log=log, extra=extra)
    click.echo(f"model version: {versions['zh']}+{versions['en']}+{versions['complaint']}")
