"""Checks that run before any spreadsheet parser sees a file, and a child process for the rest.

The parsers we use are fast but not built for hostile input: python-calamine (Rust) aborts the
whole process when a one-cell workbook puts that cell at ``XFD900000`` (it allocates the dense
rectangle up to it), quick-xml and expat only happen not to expand XML entities, and a zip of
200 MB of XML fits in 200 KB. So, before parsing:

* :func:`check_zip` looks at the archive itself: member count, names (duplicates would let us
  check one member while the parser reads another), total and per-member expanded size and
  compression ratio, encrypted members; and at the start of every XML part: the encoding must
  be UTF-8 and there must be no DTD (``<!DOCTYPE``/``<!ENTITY``), which is how billion-laughs,
  quadratic blow-up and XXE attacks start.
* For xlsx/xlsm it then streams every worksheet part once (never whole in memory) and finds the
  largest row and column any cell or row reference points at, so the dense grid calamine will
  allocate is known before calamine is called; more than :data:`MAX_CELLS` is refused.
* xls, xlsb and ods files are parsed in a child process (:func:`run_worker`) with an address-space
  and CPU-time limit and a wall-clock timeout; a crash, abort or blow-up there becomes a
  :class:`Refused` message and this process lives on. xlsx takes the in-process path because
  handing 2 million cells back from a child costs more than the whole guarded read; its
  pre-checks bound what calamine allocates.

Everything here raises :class:`Refused` with a message meant for the user (the reader adds the
file name), never anything else for a bad file.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import queue
import re
import signal
import subprocess
import sys
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# defusedxml is a hard requirement: openpyxl hardens its XML parsing only when it is importable,
# and the reader parses workbook parts with it. Fail at import rather than parse unprotected.
import defusedxml  # noqa: F401
import defusedxml.ElementTree  # noqa: F401

__all__ = [
    "Refused",
    "MAX_CELLS",
    "ZipFacts",
    "check_zip",
    "cfb_stream_names",
    "lock_file_owner",
    "run_worker",
    "xml_hardening_problem",
]

#: Largest dense grid (rows x columns, counted from A1) a worksheet may span. calamine keeps
#: about 32 bytes per cell of that rectangle, so this is roughly 1.3 GB; a full-height sheet
#: (1,048,576 rows) may be up to 38 columns wide.
MAX_CELLS = 40_000_000
#: Sum of the expanded sizes of all archive members.
MAX_UNCOMPRESSED = 4 * 1024**3
MAX_MEMBERS = 10_000
#: Members that expand to more than RATIO_FLOOR bytes may not compress better than this.
MAX_RATIO = 100
RATIO_FLOOR = 16 * 1024**2
#: How much of each XML part is read to check its prolog (declaration, comments, DTD).
HEAD_BYTES = 64 * 1024
#: Child process limits.
WORKER_TIMEOUT = 180.0
WORKER_CPU_SECONDS = 300
WORKER_MEMORY = None  # bytes; None = half the physical memory, between 1 and 6 GiB

_CHUNK = 4 << 20
_OVERLAP = 128


class Refused(Exception):
    """The file was not parsed; ``message`` says why, in words meant for the user."""

    def __init__(self, message: str, kind: str = "refused") -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind


# --------------------------------------------------------------------------------------------
# XML hardening self-check


def xml_hardening_problem() -> str | None:
    """Why XML parsing would be unprotected here, or None when it is protected.

    openpyxl decides once, at its import, whether it parses through defusedxml; the environment
    variable ``OPENPYXL_DEFUSEDXML`` (anything but ``True``) silently turns that off.
    """
    if os.environ.get("OPENPYXL_DEFUSEDXML", "True") != "True":
        return (
            "XML hardening is switched off (OPENPYXL_DEFUSEDXML is set); "
            "unset it to open Excel files"
        )
    mod = sys.modules.get("openpyxl.xml")
    if mod is not None and not getattr(mod, "DEFUSEDXML", False):
        return "XML hardening is off in openpyxl (defusedxml not active); refusing to parse"
    return None


# --------------------------------------------------------------------------------------------
# Lock files and CFB containers


def lock_file_owner(p: Path, head: bytes) -> str | None:
    """The workbook name when ``p`` is an Excel or LibreOffice lock file, else None."""
    name = p.name
    if name.startswith("~$") and len(name) > 2 and not head.startswith(b"PK\x03\x04"):
        try:
            small = p.stat().st_size <= 4096
        except OSError:
            small = False
        if small:
            return name[2:]
    if name.startswith(".~lock.") and name.endswith("#"):
        return name[len(".~lock.") : -1]
    return None


_CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_FREESECT = 0xFFFFFFFA  # this and above: end of chain / special markers


def cfb_stream_names(p: Path) -> set[str]:
    """Names in the directory of a CFB (OLE2) container; empty when it is not one or is damaged.

    A minimal, bounded reader: the header, the FAT (through the DIFAT) and the directory chain.
    An encrypted xlsx is a CFB file with ``EncryptionInfo`` and ``EncryptedPackage`` streams.
    """
    try:
        size = p.stat().st_size
        with open(p, "rb") as fh:
            hdr = fh.read(512)
            if len(hdr) < 512 or not hdr.startswith(_CFB_MAGIC):
                return set()
            shift = int.from_bytes(hdr[0x1E:0x20], "little")
            if shift not in (9, 12):
                return set()
            ssize = 1 << shift
            n_sectors = max(0, (size - 512 + ssize - 1) // ssize) if shift == 9 else max(0, (size - ssize) // ssize + 1)
            first_dir = int.from_bytes(hdr[0x30:0x34], "little")
            first_difat = int.from_bytes(hdr[0x44:0x48], "little")
            n_difat = int.from_bytes(hdr[0x48:0x4C], "little")
            fat_sectors = [
                int.from_bytes(hdr[0x4C + 4 * i : 0x50 + 4 * i], "little") for i in range(109)
            ]

            def read_sector(s: int) -> bytes:
                if s >= n_sectors + 1:
                    return b""
                fh.seek(512 + s * ssize if shift == 9 else ssize * (s + 1))
                return fh.read(ssize)

            s, seen = first_difat, 0
            while s < _FREESECT and seen < min(n_difat, n_sectors):
                data = read_sector(s)
                if len(data) < ssize:
                    break
                ints = np.frombuffer(data, "<u4")
                fat_sectors.extend(int(x) for x in ints[:-1])
                s = int(ints[-1])
                seen += 1
            fat_parts = []
            for fs in fat_sectors:
                if fs >= _FREESECT or len(fat_parts) > n_sectors:
                    continue
                data = read_sector(fs)
                if len(data) == ssize:
                    fat_parts.append(np.frombuffer(data, "<u4"))
            if not fat_parts:
                return set()
            fat = np.concatenate(fat_parts)
            names: set[str] = set()
            s, steps = first_dir, 0
            while s < _FREESECT and s < len(fat) and steps <= n_sectors:
                data = read_sector(s)
                for off in range(0, len(data) - 127, 128):
                    entry = data[off : off + 128]
                    n = int.from_bytes(entry[0x40:0x42], "little")
                    if 2 <= n <= 64:
                        names.add(entry[: n - 2].decode("utf-16-le", "replace"))
                s = int(fat[s])
                steps += 1
            return names
    except (OSError, ValueError):
        return set()


_ENC_NAMES = ("EncryptedPackage".encode("utf-16-le"), "EncryptionInfo".encode("utf-16-le"))


def is_encrypted_ooxml(p: Path) -> bool:
    """A CFB container holding an encrypted OOXML package (a password-protected xlsx)."""
    names = cfb_stream_names(p)
    if names:
        return "EncryptedPackage" in names or "EncryptionInfo" in names
    # A directory we could not walk: look for the stream names themselves, a chunk at a time.
    try:
        with open(p, "rb") as fh:
            if fh.read(8) != _CFB_MAGIC:
                return False
            fh.seek(0)
            tail = b""
            while True:
                chunk = fh.read(1 << 20)
                if not chunk:
                    return False
                window = tail + chunk
                if any(n in window for n in _ENC_NAMES):
                    return True
                tail = window[-40:]
    except OSError:
        return False


# --------------------------------------------------------------------------------------------
# Zip pre-checks


@dataclass
class ZipFacts:
    names: list[str]
    has_macros: bool = False
    external_links: int = 0
    #: worksheet member -> whether it holds cells typed as errors (t="e")
    error_hint: dict[str, bool] = field(default_factory=dict)
    #: worksheet member -> whether it may hold formula cells saved without a computed value
    #: (a formula element ending right before the cell does, or before an empty <v>); only
    #: those sheets get the reader's exact search
    formula_hint: dict[str, bool] = field(default_factory=dict)
    #: worksheet member -> (largest 1-based row, largest 1-based column) referenced
    extents: dict[str, tuple[int, int]] = field(default_factory=dict)


_cache_lock = threading.Lock()
_cache: dict[tuple, ZipFacts] = {}


def _identity(p: Path) -> tuple | None:
    try:
        st = p.stat()
    except OSError:
        return None
    return (str(p.resolve()), st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)


def _gib(n: int) -> str:
    return f"{n / 1024**3:.1f} GB" if n >= 1024**3 else f"{n / 1024**2:.0f} MB"


def check_zip(p: Path, fmt: str) -> ZipFacts:
    """Refuse archives a parser should not open; for xlsx/xlsm also bound every sheet's grid."""
    key = _identity(p)
    if key is not None:
        with _cache_lock:
            hit = _cache.get(key + (fmt,))
        if hit is not None:
            return hit
    facts = _check_zip(p, fmt)
    if key is not None:
        with _cache_lock:
            if len(_cache) > 32:
                _cache.clear()
            _cache[key + (fmt,)] = facts
    return facts


def _check_zip(p: Path, fmt: str) -> ZipFacts:
    try:
        zf = zipfile.ZipFile(p)
    except (zipfile.BadZipFile, EOFError, ValueError, OSError, NotImplementedError) as exc:
        raise Refused(
            "the file is damaged or incomplete (not a readable ZIP archive)", "damaged"
        ) from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise Refused(
                f"the archive has {len(infos):,} entries (the limit is {MAX_MEMBERS:,}); "
                "refused for safety",
                "bomb",
            )
        seen: set[str] = set()
        total = 0
        for info in infos:
            norm = info.filename.replace("\\", "/").lstrip("/").casefold()
            if norm in seen:
                raise Refused(
                    f"the archive holds two entries named '{info.filename}'; refused for safety",
                    "zip",
                )
            seen.add(norm)
            if info.flag_bits & 0x1:
                raise Refused(
                    "it is password-protected (its ZIP entries are encrypted); "
                    "open it in Excel, remove the password and save a copy",
                    "password",
                )
            total += info.file_size
            if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(
                info.compress_size, 1
            ):
                ratio = info.file_size / max(info.compress_size, 1)
                raise Refused(
                    f"'{info.filename}' expands {ratio:,.0f}-fold to {_gib(info.file_size)} "
                    f"(a ZIP bomb?); refused for safety",
                    "bomb",
                )
        if total > MAX_UNCOMPRESSED:
            raise Refused(
                f"the file expands to {_gib(total)}, over the {_gib(MAX_UNCOMPRESSED)} limit",
                "bomb",
            )
        names = [i.filename for i in infos]
        facts = ZipFacts(names=names)
        lowered = [n.replace("\\", "/").casefold() for n in names]
        facts.has_macros = any(n.endswith("vbaproject.bin") for n in lowered)
        facts.external_links = sum(1 for n in lowered if "externallink" in n and n.endswith(".xml"))
        for info in infos:
            if info.is_dir():
                continue
            name = info.filename.replace("\\", "/")
            parts = name.lstrip("/").split("/")
            is_sheet = (
                fmt in ("xlsx", "xlsm")
                and len(parts) >= 3
                and parts[0].casefold() == "xl"
                and parts[1].casefold() in ("worksheets", "chartsheets", "dialogsheets")
            )
            try:
                if is_sheet:
                    rows, cols, err, formula = _scan_sheet(zf, info)
                    facts.extents[info.filename] = (rows, cols)
                    facts.error_hint[info.filename] = err
                    facts.formula_hint[info.filename] = formula
                    if rows * cols > MAX_CELLS:
                        raise Refused(
                            f"a worksheet reaches cell {_col_letters(cols)}{rows:,} "
                            f"({rows:,} rows x {cols:,} columns, {rows * cols:,} cells; "
                            f"the limit is {MAX_CELLS:,}); refused so it cannot exhaust memory",
                            "bomb",
                        )
                else:
                    with zf.open(info) as fh:
                        head = fh.read(HEAD_BYTES)
                    _check_xml_head(head, name)
            except Refused:
                raise
            except (zipfile.BadZipFile, EOFError, OSError, ValueError, zlib_error(),
                    NotImplementedError, RuntimeError) as exc:
                raise Refused(
                    f"the file is damaged or incomplete (entry '{info.filename}' cannot be "
                    "unpacked)",
                    "damaged",
                ) from exc
        return facts


def zlib_error():
    import zlib

    return zlib.error


_DTD_RE = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_XML_DECL_ENC = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_XMLISH_EXT = (".xml", ".rels", ".vml", ".xhtml")


def _check_xml_head(head: bytes, name: str) -> None:
    """Refuse a DTD or a non-UTF-8 encoding at the start of an XML part."""
    lowered = name.casefold()
    stripped = head.lstrip(b" \t\r\n")
    looks_xml = lowered.endswith(_XMLISH_EXT) or stripped[:1] == b"<" or head[:3] == b"\xef\xbb\xbf"
    utf16 = head[:2] in (b"\xff\xfe", b"\xfe\xff") or head[:4] in (b"\x00\x00\xfe\xff",)
    if utf16 or (looks_xml and b"\x00" in head[:256]):
        raise Refused(
            f"part '{name}' is not UTF-8 XML (unusual encoding); refused for safety", "xml"
        )
    if not looks_xml:
        return
    if _DTD_RE.search(head.replace(b"\x00", b"")):
        raise Refused(
            "the workbook contains XML entity declarations (a DTD), which can be used to "
            "attack the reader; refused for safety",
            "xml",
        )
    body = head[3:] if head[:3] == b"\xef\xbb\xbf" else head
    m = _XML_DECL_ENC.match(body.lstrip())
    if m and m.group(1).lower().replace(b"_", b"-") not in (b"utf-8", b"utf8", b"us-ascii", b"ascii"):
        raise Refused(
            f"part '{name}' declares encoding {m.group(1).decode('ascii', 'replace')}; "
            "only UTF-8 is accepted",
            "xml",
        )
    _check_prolog(body, name)


_PROLOG_SKIP = re.compile(rb"\s*(?:<\?.*?\?>|<!--.*?-->)", re.DOTALL)


def _check_prolog(body: bytes, name: str) -> None:
    """The root element must start within the head, so no DTD can hide further down."""
    pos = 0
    n = len(body)
    while True:
        m = _PROLOG_SKIP.match(body, pos)
        if not m or m.end() == pos:
            break
        pos = m.end()
    while pos < n and body[pos : pos + 1] in b" \t\r\n":
        pos += 1
    if pos >= n:
        if n < HEAD_BYTES:
            return  # an empty or tiny part: the parser will say what is wrong with it
        raise Refused(
            f"part '{name}' has an unusually long XML prolog; refused for safety", "xml"
        )
    if body[pos : pos + 2] == b"<!":
        raise Refused(
            "the workbook contains XML entity declarations (a DTD), which can be used to "
            "attack the reader; refused for safety",
            "xml",
        )


# --------------------------------------------------------------------------------------------
# Worksheet extent scan


def _col_number(letters: bytes) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + (ch - 64)
    return n


def _col_letters(n: int) -> str:
    out = ""
    while n > 0:
        n, rem = divmod(n - 1, 26)
        out = chr(65 + rem) + out
    return out or "A"


_DIM_RE = re.compile(rb"""<(?:[A-Za-z_][\w.-]*:)?dimension\b[^>]*?\bref\s*=\s*["']([^"']*)["']""")
_REF_RE = re.compile(rb"^\$?([A-Za-z]*)\$?(\d+)$")
#: Any ``r`` attribute, however it is spaced or quoted (the slow, exact path).
_ANY_R_VALUE = re.compile(rb"""(?<![^\s])r\s*=\s*["']([^"'<>]{0,40})""")
_VALUE_AT = re.compile(rb"""r\s*=\s*["']([^"'<>]{0,40})""")


def _digits_gt(limit: int) -> bytes:
    """Regex for a run of decimal digits (no leading zeros) whose value exceeds ``limit``."""
    s = str(limit)
    alts = [rb"[1-9]\d{%d,}" % len(s)]
    for i, ch in enumerate(s):
        d = int(ch)
        if d == 9:
            continue
        lead = s[:i].encode()
        if i == 0 and d + 1 > 9:
            continue
        lo = d + 1
        alts.append(lead + (b"[%d-9]" % lo) + (rb"\d{%d}" % (len(s) - i - 1)))
    return b"(?:" + b"|".join(alts) + b")"


def _letters_gt(cols: int) -> bytes:
    """Regex for column letters (either case) whose column number exceeds ``cols``."""
    s = _col_letters(cols)
    alts = [rb"[A-Za-z]{%d,}" % (len(s) + 1)]
    for i, ch in enumerate(s):
        if ch == "Z":
            continue
        lead = b"".join(b"[%s%s]" % (c.encode(), c.lower().encode()) for c in s[:i])
        nxt = chr(ord(ch) + 1)
        alts.append(
            lead
            + b"[%s-Z%s-z]" % (nxt.encode(), nxt.lower().encode())
            + (rb"[A-Za-z]{%d}" % (len(s) - i - 1))
        )
    return b"(?:" + b"|".join(alts) + b")"


def _hit_regex(rows: int, cols: int) -> re.Pattern:
    """Canonical ``r="..."`` values beyond (rows, cols): a column past ``cols`` or a row past
    ``rows`` (with or without column letters, leading zeros allowed)."""
    return re.compile(
        rb'r="(?:'
        + _letters_gt(cols)
        + rb"(?![A-Za-z])|[A-Za-z]{0,4}+0*+"
        + _digits_gt(rows)
        + rb"[\"'])"
    )


def _fast_regex(rows: int, cols: int) -> tuple[re.Pattern, int, int] | None:
    """A cheaper hit pattern for claims rounded up (rows to d99..9, columns to the next
    leading letter), with the rounded claims; None when those exceed the cell limit.

    The pattern matches after ``r="`` when the value has more column letters than allowed, a
    leading zero (checked exactly later), or more row digits than allowed.
    """
    letters = _col_letters(cols)
    first = letters[0]
    lo = first.lower()
    if len(letters) == 1:
        allowed = b"[A-%sa-%s]?+" % (first.encode(), lo.encode())
        c_round = cols
    elif len(letters) <= 3:
        k = len(letters) - 1
        allowed = b"(?>[A-%sa-%s][A-Za-z]{%d}|[A-Za-z]{1,%d})?" % (
            first.encode(), lo.encode(), k, k
        )
        c_round = _col_number(first.encode() + b"Z" * k)
    else:
        return None
    digits = str(rows)
    d0, n = int(digits[0]), len(digits)
    if d0 == 9:
        row_alts = b"[1-9]\\d{%d}" % n
        r_round = 10**n - 1
    else:
        row_alts = b"[%d-9]\\d{%d}|[1-9]\\d{%d}" % (d0 + 1, n - 1, n)
        r_round = (d0 + 1) * 10 ** (n - 1) - 1
    if r_round * c_round > MAX_CELLS:
        return None
    rx = re.compile(b'r="' + allowed + b"(?:[A-Za-z]|0|" + row_alts + b")")
    return rx, r_round, c_round


def _claims(first: bytes) -> tuple[int, int]:
    """Rows and columns to expect, from the sheet's <dimension>; only ever a hint."""
    m = _DIM_RE.search(first)
    if m:
        end = m.group(1).split(b":")[-1].strip()
        rm = _REF_RE.match(end)
        if rm and rm.group(1):
            r, c = int(rm.group(2)), _col_number(rm.group(1))
            if 0 < r and 0 < c and r * c <= MAX_CELLS:
                return r, c
    return 999_999, 26


_SEAM_ODD = re.compile(rb'=(?!")|(?<=[ \t\r\n])=')
_SEAM_BOUNDARY = 8


def _chunk_facts(a: np.ndarray) -> tuple[bool, bool, bool, bool]:
    """(some '=' not written name="value", an error-typed cell t="e", a '<!' markup declaration,
    a possible formula cell without a value) for one chunk, vectorised so it runs beside the
    regex scan (numpy releases the GIL)."""
    n = len(a)
    idx = np.flatnonzero(a == 61)
    idx = idx[(idx > 1) & (idx < n - 3)]
    odd = bool(len(idx)) and bool((a[idx - 1] <= 32).any() or (a[idx + 1] != 34).any())
    err = bool(
        len(idx)
        and ((a[idx - 1] == 116) & (a[idx + 2] == 101) & (a[idx + 3] == 34)).any()
    )
    bang = np.flatnonzero(a[1:] == 33)
    decl = bool(len(bang)) and bool((a[bang] == 60).any())
    # A formula cell saved without a value (Excel always stores one after the formula):
    # '</f>' followed by the cell's end or an empty <v>, or a self-closed element followed by
    # the cell's end. Whitespace after either, and namespace-prefixed formulas, count too, to
    # be safe; a false alarm only costs the reader's exact search of the sheet.
    end = n - 6
    all_f = np.flatnonzero(a[2:end] == 102) + 2  # 'f': rare in sheet XML outside formulas
    eff = all_f[(a[all_f + 1] == 62) & ((a[all_f - 1] == 47) | (a[all_f - 1] == 58))]  # '/f>', ':f>'
    nxt = eff + 2
    formula = bool(len(eff)) and bool(
        (a[eff - 1] == 58).any()  # prefixed
        | (a[nxt] != 60).any()  # something other than a tag right after: whitespace
        | ((a[nxt + 1] == 47) & (a[nxt + 2] == 99)).any()  # </c
        | ((a[nxt + 1] == 118) & ((a[nxt + 2] == 47) | (a[nxt + 2] == 32) | (a[nxt + 3] == 60))).any()
    )
    if not formula and bool(((a[all_f - 1] == 60) & (a[all_f + 1] == 32)).any()):
        # '<f ' with attributes, as in a shared formula's self-closed <f t="shared" si="0"/>
        sl = np.flatnonzero(a[:end] == 47)  # '/'
        sl = sl[a[sl + 1] == 62]  # '/>'
        formula = bool(len(sl)) and bool(
            ((a[sl + 2] <= 32).any())
            | ((a[sl + 2] == 60) & (a[sl + 3] == 47) & (a[sl + 4] == 99) & (a[sl + 5] == 62)).any()
        )
    return odd, err, decl, formula


def _chunks(fh, size: int):
    """Yield (chunk, facts): one thread inflates (zlib releases the GIL), another computes
    :func:`_chunk_facts` (numpy releases it too), while the caller runs its regex."""
    raw_q: queue.Queue = queue.Queue(maxsize=2)
    out_q: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()

    def inflate():
        try:
            while not stop.is_set():
                data = fh.read(size)
                raw_q.put((data, None))
                if not data:
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            raw_q.put((b"", exc))

    def judge():
        while True:
            data, exc = raw_q.get()
            if exc is not None or not data:
                out_q.put((b"", None, exc))
                return
            try:
                facts = _chunk_facts(np.frombuffer(data, np.uint8))
            except BaseException as err:  # noqa: BLE001
                out_q.put((b"", None, err))
                return
            out_q.put((data, facts, None))

    threads = [threading.Thread(target=f, daemon=True) for f in (inflate, judge)]
    for t in threads:
        t.start()
    try:
        while True:
            data, facts, exc = out_q.get()
            if exc is not None:
                raise exc
            if not data:
                return
            yield data, facts
    finally:
        stop.set()
        for t in threads:
            while t.is_alive():
                for q in (raw_q, out_q):
                    try:
                        q.get_nowait()
                    except queue.Empty:
                        pass
                t.join(0.01)


# The signs _chunk_facts looks for, as a regex for the few bytes around a chunk seam.
_SEAM_FORMULA = re.compile(rb"</f>(?:\s|</c|<v\s*/|<v\s*>\s*<)|/>(?:\s|</c>)|:f[\s>]")


def _scan_sheet(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[int, int, bool, bool]:
    """(largest row, largest column, has error cells, has formulas) referenced anywhere in a
    worksheet part.

    The fast pass only looks closely at references beyond what the sheet's ``<dimension>``
    claims (in a normal file: none), so its cost is one regex pass with no Python per cell.
    If what it finds leaves the grid possibly over the limit, an exact pass decides.
    """
    rows, cols, err, formula, exact = _scan_pass(zf, info, exact=False)
    if not exact and rows * cols > MAX_CELLS:
        rows, cols, err, formula, _ = _scan_pass(zf, info, exact=True)
    return rows, cols, err, formula


def _scan_pass(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, *, exact: bool
) -> tuple[int, int, bool, bool, bool]:
    max_row = max_col = 0
    has_err = has_formula = False
    tail = b""
    claim_r = claim_c = 0
    rx = None
    with zf.open(info) as fh:
        for chunk, (odd, err, decl, formula) in _chunks(fh, _CHUNK):
            window = tail + chunk
            if tail:
                # The producer judged each chunk alone; look at what straddles the seam.
                seam = tail[-8:] + chunk[:8]
                # An '=' needs the byte after it to be judged: one at the seam's very end is
                # the chunk's own (its 8th byte) and _chunk_facts judged it already. Taking it
                # as odd sent ~4% of a big sheet's chunks through the exact, slow pass.
                odd = odd or any(m.start() < len(seam) - 1 for m in _SEAM_ODD.finditer(seam))
                err = err or b't="e"' in seam
                decl = decl or b"<!" in seam
                formula = formula or _SEAM_FORMULA.search(tail[-64:] + chunk[:64]) is not None
            if rx is None:
                _check_xml_head(chunk[:HEAD_BYTES], info.filename)
                claim_r, claim_c = (0, 0) if exact else _claims(chunk[:HEAD_BYTES])
                fast = None if exact else _fast_regex(claim_r, claim_c)
                if fast is not None:
                    rx, claim_r, claim_c = fast
                else:
                    rx = _hit_regex(max(claim_r, 1), max(claim_c, 1))
            has_err = has_err or err
            has_formula = has_formula or formula
            if decl and _DTD_RE.search(window):
                raise Refused(
                    "the workbook contains XML entity declarations (a DTD), which can be used "
                    "to attack the reader; refused for safety",
                    "xml",
                )
            if odd or exact:
                values = [m.group(1) for m in _ANY_R_VALUE.finditer(window)]
            else:
                values = []
                for m in rx.finditer(window):
                    at = m.start()
                    if at == 0 or window[at - 1] not in b" \t\r\n":
                        continue
                    vm = _VALUE_AT.match(window, at)
                    if vm:
                        values.append(vm.group(1))
            for v in values:
                rm = _REF_RE.match(v.strip())
                if rm is None:
                    continue  # not a cell reference: the parser rejects the sheet itself
                letters, digits = rm.group(1), rm.group(2)
                if letters:
                    max_col = max(max_col, _col_number(letters))
                max_row = max(max_row, int(digits))
            tail = window[-_OVERLAP:]
    if rx is None:
        return 0, 0, False, False, True
    # References the fast pass did not look at lie within the claims.
    return max(max_row, claim_r, 1), max(max_col, claim_c, 1), has_err, has_formula, exact


# --------------------------------------------------------------------------------------------
# Child process


def _worker_memory() -> int:
    if WORKER_MEMORY:
        return int(WORKER_MEMORY)
    try:
        phys = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        phys = 8 * 1024**3
    return int(min(max(phys // 2, 1024**3), 6 * 1024**3))


class _SafeUnpickler(pickle.Unpickler):
    """Only plain data and datetime values come back from the child."""

    _ALLOWED = {
        ("datetime", "datetime"),
        ("datetime", "date"),
        ("datetime", "time"),
        ("datetime", "timedelta"),
        ("datetime", "timezone"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) in self._ALLOWED:
            import datetime

            return getattr(datetime, name)
        raise pickle.UnpicklingError(f"refused global {module}.{name}")


def package_root() -> str:
    """The folder that holds the ``tui_detector`` package (a child's ``PYTHONPATH``)."""
    return str(Path(__file__).resolve().parent.parent.parent)


def run_worker(request: dict, *, timeout: float | None = None) -> object:
    """Run one parse in a fresh child process under resource limits; return its result.

    Raises :class:`Refused` for every way the child can fail: a parser error (with the
    parser's own one-line message in ``kind="parser:<ExceptionName>"``), a crash or abort, the
    memory or CPU limit, or the timeout.
    """
    req = dict(request)
    req["memory"] = _worker_memory()
    req["cpu"] = WORKER_CPU_SECONDS
    env = dict(os.environ)
    root = package_root()
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("RUST_BACKTRACE", "0")
    limit = WORKER_TIMEOUT if timeout is None else timeout
    try:
        proc = subprocess.Popen(
            [sys.executable, "-P", "-m", "tui_detector.core.io._worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
    except OSError as exc:
        raise Refused(f"could not start the parser process ({exc})", "worker") from exc
    try:
        out, err = proc.communicate(json.dumps(req).encode("utf-8"), timeout=limit)
    except subprocess.TimeoutExpired:
        _kill(proc)
        raise Refused(
            f"reading it took longer than {limit:.0f} s and was stopped", "timeout"
        ) from None
    except BaseException:
        _kill(proc)
        raise
    rc = proc.returncode
    if rc == 0 and out.startswith(b"OK"):
        try:
            return _SafeUnpickler(io.BytesIO(out[2:])).load()
        except Exception as exc:  # noqa: BLE001
            raise Refused("the parser process returned damaged data", "worker") from exc
    if rc == 0 and out.startswith(b"ER"):
        try:
            info = json.loads(out[2:].decode("utf-8"))
            kind, message = str(info["type"]), str(info["message"])
        except Exception:  # noqa: BLE001
            kind, message = "Error", "unknown error"
        raise Refused(message, "parser:" + kind)
    text = err.decode("utf-8", "replace")
    if "memory allocation" in text or "MemoryError" in text or rc in (-signal.SIGKILL,):
        if rc == -signal.SIGKILL or "memory allocation" in text or "MemoryError" in text:
            raise Refused(
                "it needs more memory than allowed while being parsed "
                "(the sheet is too large or the file is hostile)",
                "memory",
            )
    if rc == -getattr(signal, "SIGXCPU", 24):
        raise Refused("parsing it used too much CPU time and was stopped", "timeout")
    if rc is not None and rc < 0:
        try:
            signame = signal.Signals(-rc).name
        except ValueError:
            signame = f"signal {-rc}"
        raise Refused(
            f"the spreadsheet parser crashed on it ({signame}); the file is damaged or hostile",
            "crash",
        )
    raise Refused(
        f"the spreadsheet parser failed on it (exit status {rc})", "crash"
    )


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL a child started with ``start_new_session=True`` and whatever it started."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (OSError, AttributeError):
        try:
            proc.kill()
        except OSError:
            pass


def _kill(proc: subprocess.Popen) -> None:
    kill_group(proc)
    try:
        proc.communicate(timeout=5)
    except Exception:  # noqa: BLE001
        pass
