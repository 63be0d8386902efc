"""The file formats the reader opens, by extension.

Kept free of heavy imports: the file picker filters its tree with this before pandas loads.
"""

from __future__ import annotations

SUPPORTED_EXTENSIONS = (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods", ".csv", ".tsv", ".txt")
