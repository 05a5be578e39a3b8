from __future__ import annotations

from pathlib import Path
from typing import Optional

from pydantic import Field

from storage.types import Strict


class AnalysisSettings(Strict):
    negative_threshold: float = Field(default=0.4, ge=0, le=1, description="sentiment below this is negative")
    lexicon: Optional[Path] = Field(default=None, description="extra YAML word lists merged over the built-in ones")
    workers: int = Field(default=0, ge=0, description="processes for large batches; 0 = one per core")
    batch_size: int = Field(default=500, gt=0)
