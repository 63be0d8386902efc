"""The start of every XML part: UTF-8 or UTF-16 and no DTD, which is how billion-laughs, quadratic
blow-up and XXE attacks start; and the self-check that openpyxl parses through defusedxml."""

from __future__ import annotations

import os
import re
import sys
from typing import NoReturn

# defusedxml is a hard requirement: openpyxl hardens its XML parsing only when it is importable,
# and the reader parses workbook parts with it. Fail at import rather than parse unprotected.
import defusedxml  # noqa: F401
import defusedxml.ElementTree  # noqa: F401

from .refusal import Refused

__all__ = ["DTD_RE", "HEAD_BYTES", "check_xml_head", "refuse_dtd", "xml_hardening_problem"]

#: How much of each XML part is read to check its prolog (declaration, comments, DTD).
HEAD_BYTES = 64 * 1024


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


DTD_RE = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_XML_DECL_ENC = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_XMLISH_EXT = (".xml", ".rels", ".vml", ".xhtml")


_UTF8_NAMES = (b"utf-8", b"utf8", b"us-ascii", b"ascii")
_UTF16_NAMES = (b"utf-16", b"utf16", b"utf-16le", b"utf-16be", b"ucs-2")


def _utf16_codec(head: bytes) -> str | None:
    """'utf-16' (BOM), 'utf-16-le'/'utf-16-be' (no BOM, XML's autodetection of ``<?``), or
    None when the head is not UTF-16."""
    if head[:4] in (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"):
        return None  # UTF-32: no parser here reads it; refused as an odd encoding below
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "utf-16"
    if head[:4] == b"<\x00?\x00":
        return "utf-16-le"
    if head[:4] == b"\x00<\x00?":
        return "utf-16-be"
    return None


def check_xml_head(head: bytes, name: str, *, parsed: bool = True, streamed: bool = False) -> None:
    """Refuse a DTD, in UTF-8 or UTF-16, or an encoding XML parsers here do not read, at the
    start of an XML part.

    ``streamed``: the part is a worksheet the grid bound scans as bytes, which only works for
    UTF-8, so UTF-16 is refused there. ``parsed`` False: no reader parses the part, so only a
    DTD is refused (to be safe), never its encoding.
    """
    lowered = name.casefold()
    complete = len(head) < HEAD_BYTES
    codec = _utf16_codec(head)
    if codec is not None and not streamed:
        even = head[: len(head) - len(head) % 2]
        head = even.decode(codec, "replace").encode("utf-8")
        allowed = _UTF16_NAMES
    else:
        allowed = _UTF8_NAMES
    stripped = head.lstrip(b" \t\r\n")
    looks_xml = lowered.endswith(_XMLISH_EXT) or stripped[:1] == b"<" or head[:3] == b"\xef\xbb\xbf"
    odd = head[:2] in (b"\xff\xfe", b"\xfe\xff") or head[:4] in (b"\x00\x00\xfe\xff",)
    if parsed and (odd or (looks_xml and b"\x00" in head[:256])):
        raise Refused(
            f"part '{name}' is not UTF-8 XML (unusual encoding); refused for safety", "xml"
        )
    if not looks_xml:
        return
    if DTD_RE.search(head.replace(b"\x00", b"")):
        refuse_dtd()
    if not parsed:
        return
    body = head[3:] if head[:3] == b"\xef\xbb\xbf" else head
    m = _XML_DECL_ENC.match(body.lstrip())
    if m and m.group(1).lower().replace(b"_", b"-") not in allowed:
        raise Refused(
            f"part '{name}' declares encoding {m.group(1).decode('ascii', 'replace')}; "
            "only UTF-8 and UTF-16 are accepted",
            "xml",
        )
    _check_prolog(body, name, complete)


def refuse_dtd() -> NoReturn:
    raise Refused(
        "the workbook contains XML entity declarations (a DTD), which can be used to "
        "attack the reader; refused for safety",
        "xml",
    )


_PROLOG_SKIP = re.compile(rb"\s*(?:<\?.*?\?>|<!--.*?-->)", re.DOTALL)


def _check_prolog(body: bytes, name: str, complete: bool) -> None:
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
        if complete:
            return  # an empty or tiny part: the parser will say what is wrong with it
        raise Refused(
            f"part '{name}' has an unusually long XML prolog; refused for safety", "xml"
        )
    if body[pos : pos + 2] == b"<!":
        refuse_dtd()
