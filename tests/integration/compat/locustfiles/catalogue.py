"""The product catalogue the sibling-imports locustfile reads (a module next to it)."""

import csv
from pathlib import Path

CATALOGUE = Path(__file__).with_name("catalogue.csv")


def load_products() -> list[dict]:
    with open(CATALOGUE, newline="") as f:
        return list(csv.DictReader(f))
