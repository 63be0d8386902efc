"""What kind of container a file is, before any parser opens it: Excel and LibreOffice lock
files, and CFB (OLE2) compound files, which is how a password-protected xlsx arrives."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["cfb_stream_names", "is_encrypted_ooxml", "lock_file_owner"]


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
