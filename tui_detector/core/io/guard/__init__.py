"""Checks that run before any spreadsheet parser sees a file, and a child process for the rest.

The parsers we use are fast but not built for hostile input: python-calamine (Rust) aborts the
whole process when a one-cell workbook puts that cell at ``XFD900000`` (it allocates the dense
rectangle up to it), quick-xml and expat only happen not to expand XML entities, and a zip of
200 MB of XML fits in 200 KB. So, before parsing:

* :mod:`.containers` tells lock files and encrypted (CFB-wrapped) workbooks apart;
* :mod:`.package` finds the workbook and its sheets through the package relationships (OPC);
* :mod:`.zipcheck` looks at the archive itself (members, names, sizes, ratios, encryption) and,
  through :mod:`.xmlparts`, at the start of every XML part a parser reads: UTF-8 or UTF-16, no DTD;
* :mod:`.dimensions` streams every xlsx/xlsm worksheet once and refuses a grid over
  ``dimensions.MAX_CELLS`` before calamine would allocate it;
* :mod:`.isolated` parses xls, xlsb and ods in a child process under resource limits.

Everything here raises :class:`Refused` with a message meant for the user (the reader adds the
file name), never anything else for a bad file.
"""

from __future__ import annotations

from .containers import cfb_stream_names, is_encrypted_ooxml, lock_file_owner
from .isolated import run_worker
from .package import Package, read_package
from .refusal import Refused
from .xmlparts import xml_hardening_problem
from .zipcheck import ZipFacts, check_zip, facts_from_wire, facts_to_wire

__all__ = [
    "Package",
    "Refused",
    "ZipFacts",
    "cfb_stream_names",
    "check_zip",
    "facts_from_wire",
    "facts_to_wire",
    "is_encrypted_ooxml",
    "lock_file_owner",
    "read_package",
    "run_worker",
    "xml_hardening_problem",
]
