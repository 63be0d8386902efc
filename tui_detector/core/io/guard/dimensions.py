"""The dense grid a worksheet will make calamine allocate, known before calamine runs.

python-calamine allocates the rectangle from A1 to the farthest referenced cell (about 32 bytes
a cell), and aborts the whole process when that does not fit: a one-cell sheet that puts its
cell at ``XFD900000`` is enough. :func:`scan_sheet` streams a worksheet part once, never whole
in memory, and finds the largest row and column any cell or row reference points at; more than
:data:`MAX_CELLS` is refused (:func:`refuse_oversized`). The same pass notes, for the reader,
whether the sheet holds error-typed cells and formulas saved without a value.
"""

from __future__ import annotations

import queue
import re
import threading
import zipfile

import numpy as np

from .refusal import Refused
from .xmlparts import DTD_RE, HEAD_BYTES, check_xml_head, refuse_dtd

__all__ = ["MAX_CELLS", "refuse_oversized", "scan_sheet"]

#: Largest dense grid (rows x columns, counted from A1) a worksheet may span. calamine keeps
#: about 32 bytes per cell of that rectangle, so this is roughly 1.3 GB; a full-height sheet
#: (1,048,576 rows) may be up to 38 columns wide.
MAX_CELLS = 40_000_000

_CHUNK = 4 << 20
_OVERLAP = 128


def refuse_oversized(rows: int, cols: int) -> None:
    """Raise :class:`Refused` when a (rows, cols) extent is over :data:`MAX_CELLS`."""
    if rows * cols > MAX_CELLS:
        raise Refused(
            f"a worksheet reaches cell {_col_letters(cols)}{rows:,} "
            f"({rows:,} rows x {cols:,} columns, {rows * cols:,} cells; "
            f"the limit is {MAX_CELLS:,}); refused so it cannot exhaust memory",
            "bomb",
        )


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


def scan_sheet(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[int, int, bool, bool]:
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
                check_xml_head(chunk[:HEAD_BYTES], info.filename, streamed=True)
                claim_r, claim_c = (0, 0) if exact else _claims(chunk[:HEAD_BYTES])
                fast = None if exact else _fast_regex(claim_r, claim_c)
                if fast is not None:
                    rx, claim_r, claim_c = fast
                else:
                    rx = _hit_regex(max(claim_r, 1), max(claim_c, 1))
            has_err = has_err or err
            has_formula = has_formula or formula
            if decl and DTD_RE.search(window):
                refuse_dtd()
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
