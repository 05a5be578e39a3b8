"""`repwatch train`: rebuild the shipped sentiment models from the shared corpora (sentiment/train.py)."""
from __future__ import annotations

from pathlib import Path

import click

from repwatch.cli.app import cli, handle_errors


@cli.command("train")
@click.option("--data", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder with the labelled corpora (default ../shared/data/sentiment beside the repository).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write the models (default: sentiment/models in the package).")
@click.option("--sample", type=click.IntRange(min=2), default=None,
              help="Keep every n-th text: a quick check of the training code, not a model to ship.")
@handle_errors
def train(data: Path | None, out: Path | None, sample: int | None) -> None:
    """Rebuild the sentiment models (Chinese domain model, English calibration) reproducibly.

    Deduplicates the corpora, splits them by a fixed hash (the test split is never trained on), trains and
    calibrates, and writes sentiment/models/zh_sentiment.joblib, en_vader.json and complaint.joblib (complaint,
    categories, severity). Fifteen to twenty-five minutes on one busy core."""
    from sentiment import corpora
    from sentiment.train import MODELS_DIR, build

    data = data or corpora.default_data_dir()
    if not data.is_dir():
        raise click.ClickException(f"{data} is not a directory; pass --data with the shared sentiment corpora")
    versions = build(data, out or MODELS_DIR, sample=sample, log=lambda m: click.echo(m, err=True))
    click.echo(f"model version: {versions['zh']}+{versions['en']}+{versions['complaint']}")
