from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

from pydantic import Field, field_validator

from storage.types import Strict


class AnalysisSettings(Strict):
    negative_threshold: float = Field(default=0.5, ge=0, le=1,
                                      description="sentiment below this is negative (the score is a calibrated probability)")
    complaint_threshold: float = Field(default=0.5, ge=0, le=1,
                                       description="complaint_score (a calibrated probability) at or above this is a complaint")
    category_floor: float = Field(default=0.15, ge=0, le=1,
                                  description="a complaint whose likeliest category is below this confidence gets no category (shown as `other`)")
    lexicon: Optional[Path] = Field(default=None, description="extra YAML word lists merged over the built-in ones")
    rules: Optional[Path] = Field(default=None, description="YAML overriding values of the built-in severity rules")
    snownlp: bool = Field(default=True, description="also compute SnowNLP's score (the baseline) for Chinese text")
    workers: int = Field(default=0, ge=0, description="processes for large batches; 0 = one per core, 1 = never fan out")
    parallel_min: int = Field(default=2000, gt=0, description="batches at least this big are scored by the worker processes")
    batch_size: int = Field(default=500, gt=0, description="mentions read from the database per batch")
    encoder: Literal["auto", "always", "never"] = Field(
        default="auto",
        description="the multilingual encoder tier (sentiment/encoder_heads.py): auto = only where the n-gram "
                    "complaint model is unsure (its score in `encoder_band`) or a complaint's categories are unsure; "
                    "always = every Chinese and English text (most accurate, about 25 texts per CPU-second); "
                    "never = n-gram models only")
    encoder_band: Optional[tuple[float, float]] = Field(
        default=None,
        description="[low, high]: with encoder: auto, the encoder reads a text whose n-gram complaint score is in "
                    "this range; default: the band chosen on the validation split, per language, stored with the models")

    @field_validator("encoder_band")
    @classmethod
    def _band_ordered(cls, band):
        if band is not None and not (0 <= band[0] <= band[1] <= 1):
            raise ValueError("encoder_band must be [low, high] with 0 <= low <= high <= 1")
        return band
