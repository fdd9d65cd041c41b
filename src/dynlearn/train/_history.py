"""Training history: a list of per-step records, writable as JSONL or CSV."""

from __future__ import annotations

import csv
import json
from pathlib import Path


class History(list):
    """A list of dicts, one per logged step (`step`, `loss`, aux values, `val_loss`...)."""

    @property
    def n_skipped(self) -> int:
        """How many logged steps were skipped for a non-finite loss or gradient."""
        return sum(1 for r in self if r.get("skipped"))

    def column(self, name: str) -> list:
        """Values of one field over the records that have it."""
        return [r[name] for r in self if name in r]

    def to_jsonl(self, path) -> None:
        """Write one JSON object per line."""
        with Path(path).open("w", encoding="utf-8") as f:
            for record in self:
                f.write(json.dumps(record) + "\n")

    def to_csv(self, path) -> None:
        """Write a CSV with the union of all fields as header (missing values left empty)."""
        fields: list[str] = []
        for record in self:
            fields.extend(k for k in record if k not in fields)
        with Path(path).open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(self)
