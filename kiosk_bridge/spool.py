"""The spool: documents on the kiosk's disk, by id, never by client-given name.

Layout (the directory is created 0700, files 0600)::

    SPOOL/docs/<id>/meta.json       metadata (no visitor data)
    SPOOL/docs/<id>/document.pdf    or document.png
    SPOOL/docs/<id>/thumbs/NNNN.png small page thumbnails (scans)
    SPOOL/uploads/<upload>.part     an upload in progress (+ .json)
    SPOOL/work/                     scratch space of scans in progress
    SPOOL/state/                    small state files (print jobs)

Every write goes to a temporary file first, then ``os.replace``: a crash leaves the
old version or the new one, never half of one. Documents are deleted at the end of their
retention (default: end of the local day) and on ``documents.delete``.

All methods are blocking; the async layer calls them through ``asyncio.to_thread``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import threading
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kiosk_bridge import clock, memory
from kiosk_bridge.errors import BridgeError

DOC_ID = r"doc_[0-9a-f]{16}"
UPLOAD_ID = r"up_[0-9a-f]{16}"
PDF = "application/pdf"
PNG = "image/png"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
UPLOAD_IDLE_S = 600.0
THUMB_BOX = (160, 160)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


@dataclass
class Document:
    id: str
    kind: str  # "scan" | "upload"
    type: str  # PDF | PNG
    pages: int
    size: int
    sha256: str
    created: float
    updated: float
    expires: float
    thumbnails: int = 0
    source: dict[str, Any] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("created", "updated", "expires"):
            d[k] = _iso(d[k])
        return d


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds")


def sniff(head: bytes, tail: bytes = b"") -> str | None:
    """The type of a file from its first and last bytes, or None."""
    if head.startswith(b"%PDF-") and (not tail or b"%%EOF" in tail):
        return PDF
    if head.startswith(PNG_MAGIC) and head[12:16] == b"IHDR":
        return PNG
    return None


def check_content(path: Path) -> tuple[str, int]:
    """(type, pages) of a candidate document, or BridgeError unsupported_type."""
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(32)
        f.seek(max(0, size - 2048))
        tail = f.read()
    kind = sniff(head, tail)
    if kind is None:
        raise BridgeError("unsupported_type", detail="content is neither PDF nor PNG")
    if kind == PDF:
        import pikepdf

        try:
            with pikepdf.open(path) as pdf:
                pages = len(pdf.pages)
        except Exception:
            raise BridgeError("unsupported_type", detail="damaged PDF") from None
        if pages < 1:
            raise BridgeError("unsupported_type", detail="PDF without pages")
        return kind, pages
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.verify()
    except Exception:
        raise BridgeError("unsupported_type", detail="damaged PNG") from None
    return kind, 1


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _private_dir(path: Path) -> None:
    """A folder only the bridge's user may enter (0700 whatever the umask)."""
    path.mkdir(mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1024 * 1024), b""):
            h.update(block)
    return h.hexdigest()


class Spool:
    def __init__(
        self,
        root: Path,
        *,
        retention_s: float | None = None,
        max_document_bytes: int = 64 * 1024 * 1024,
        min_free_bytes: int = 0,
        chunk_size: int = 256 * 1024,
    ) -> None:
        self.root = Path(root)
        self.retention_s = retention_s
        self.max_document_bytes = max_document_bytes
        self.min_free_bytes = min_free_bytes
        self.chunk_size = chunk_size
        self._lock = threading.RLock()
        # Re-entrant (get() may delete()); each lives while a thread holds or waits on it,
        # so a month of scans and uploads leaves none behind.
        self._locks: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()
        old = os.umask(0o077)
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.root, 0o700)
            for sub in ("docs", "uploads", "work", "state"):
                (self.root / sub).mkdir(mode=0o700, exist_ok=True)
        finally:
            os.umask(old)
        self.root = self.root.resolve()
        shutil.rmtree(self.root / "work", ignore_errors=True)
        (self.root / "work").mkdir(mode=0o700, exist_ok=True)
        self.swept = self.sweep_orphans()

    def sweep_orphans(self) -> int:
        """Delete what a crash left half-written: the temporary files of atomic writes
        (named ``.NAME.*``, in state/, uploads/ and each document's folder; scratch
        space in work/ is emptied above). Returns how many were deleted."""
        folders = [self.root / "state", self.root / "uploads"]
        folders += [p for p in (self.root / "docs").iterdir() if re.fullmatch(DOC_ID, p.name)]
        swept = 0
        for folder in folders:
            with contextlib.suppress(OSError):
                for path in folder.iterdir():
                    if path.name.startswith(".") and path.is_file() and not path.is_symlink():
                        with contextlib.suppress(OSError):
                            path.unlink()
                            swept += 1
        return swept

    # -- paths, by id only --------------------------------------------------------------
    def _doc_dir(self, doc_id: str) -> Path:
        if not re.fullmatch(DOC_ID, doc_id):
            raise BridgeError("document_not_found", document=doc_id[:40])
        path = self.root / "docs" / doc_id
        if not path.resolve().is_relative_to(self.root) or path.is_symlink():
            raise BridgeError("document_not_found", document=doc_id)
        return path

    def doc_lock(self, doc_id: str) -> Any:
        """The lock of one document (or upload, or scan job): a `threading.RLock`."""
        with self._lock:
            lock = self._locks.get(doc_id)
            if lock is None:
                lock = self._locks[doc_id] = threading.RLock()
            return lock

    def state_path(self, name: str) -> Path:
        return self.root / "state" / name

    def work_dir(self) -> Path:
        path = self.root / "work" / secrets.token_hex(6)
        path.mkdir(mode=0o700)
        return path

    # -- reading --------------------------------------------------------------------------
    def get(self, doc_id: str) -> Document:
        meta = self._doc_dir(doc_id) / "meta.json"
        try:
            doc = Document(**json.loads(meta.read_text()))
        except (FileNotFoundError, NotADirectoryError):
            raise BridgeError("document_not_found", document=doc_id) from None
        if doc.expires <= clock.now():
            self.delete(doc_id)
            raise BridgeError("document_not_found", document=doc_id)
        return doc

    def file_path(self, doc: Document) -> Path:
        name = "document.pdf" if doc.type == PDF else "document.png"
        return self._doc_dir(doc.id) / name

    def list_documents(self) -> list[Document]:
        out = []
        for path in sorted((self.root / "docs").iterdir()):
            try:
                out.append(self.get(path.name))
            except BridgeError:
                continue
        out.sort(key=lambda d: d.created)
        return out

    def read_chunk(self, doc_id: str, offset: int, length: int) -> tuple[Document, bytes]:
        doc = self.get(doc_id)
        length = min(length, self.chunk_size)
        with self.file_path(doc).open("rb") as f:
            f.seek(offset)
            data = f.read(length)
        return doc, data

    def thumbnail(self, doc_id: str, page: int) -> bytes:
        doc = self.get(doc_id)
        if not 1 <= page <= doc.thumbnails:
            raise BridgeError("bad_params", detail=f"no thumbnail for page {page}")
        return (self._doc_dir(doc_id) / "thumbs" / f"{page:04d}.png").read_bytes()

    # -- writing ----------------------------------------------------------------------------
    def expiry(self, now: float | None = None) -> float:
        now = clock.now() if now is None else now
        if self.retention_s is not None:
            return now + self.retention_s
        local = dt.datetime.fromtimestamp(now).astimezone()
        midnight = (local + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight.timestamp()

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.root).free

    def used_bytes(self) -> int:
        total = 0
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                with contextlib.suppress(OSError):
                    total += os.lstat(os.path.join(dirpath, name)).st_size
        return total

    def ensure_space(self, needed: int = 0) -> None:
        free = self.free_bytes()
        if free - needed < self.min_free_bytes:
            raise BridgeError("spool_full", free=free)

    def _save(self, doc: Document, content: Path | bytes) -> Document:
        ddir = self._doc_dir(doc.id)
        _private_dir(ddir)
        target = self.file_path(doc)
        if isinstance(content, bytes):
            _write_atomic(target, content)
        else:
            os.chmod(content, 0o600)
            os.replace(content, target)
        _write_atomic(ddir / "meta.json", json.dumps(asdict(doc)).encode())
        return doc

    def add_file(self, path: Path, *, kind: str = "upload") -> Document:
        """Adopt a fully received file (moved into the spool) after checking its content."""
        size = path.stat().st_size
        if size > self.max_document_bytes:
            raise BridgeError("document_too_large", size=size, limit=self.max_document_bytes)
        ctype, pages = check_content(path)
        now = clock.now()
        doc = Document(
            id=new_id("doc"),
            kind=kind,
            type=ctype,
            pages=pages,
            size=size,
            sha256=_sha256_file(path),
            created=now,
            updated=now,
            expires=self.expiry(now),
        )
        return self._save(doc, path)

    def add_pages(
        self,
        doc_id: str | None,
        pages: list[Path],
        thumbs: list[Path],
        source: dict[str, Any],
    ) -> Document:
        """Make a new scan document of ``pages`` (PNG files), or append them to ``doc_id``.

        The PDF is assembled losslessly with img2pdf; appending merges with pikepdf and
        replaces the file atomically.
        """
        import img2pdf

        new_pdf = img2pdf.convert([str(p) for p in pages])
        now = clock.now()
        if doc_id is None:
            doc = Document(
                id=new_id("doc"),
                kind="scan",
                type=PDF,
                pages=len(pages),
                size=len(new_pdf),
                sha256=hashlib.sha256(new_pdf).hexdigest(),
                created=now,
                updated=now,
                expires=self.expiry(now),
                source=source,
            )
            data = new_pdf
            first_thumb = 1
        else:
            import pikepdf

            doc = self.get(doc_id)
            if doc.type != PDF:
                raise BridgeError("unsupported_type", detail="can only append pages to a PDF")
            with (
                pikepdf.open(self.file_path(doc)) as old,
                pikepdf.open(io.BytesIO(new_pdf)) as extra,
            ):
                old.pages.extend(extra.pages)
                out = io.BytesIO()
                old.save(out)
            data = out.getvalue()
            first_thumb = doc.thumbnails + 1
            doc.pages += len(pages)
            doc.size = len(data)
            doc.sha256 = hashlib.sha256(data).hexdigest()
            doc.updated = now
        if len(data) > self.max_document_bytes:
            raise BridgeError("document_too_large", size=len(data), limit=self.max_document_bytes)
        ddir = self._doc_dir(doc.id)
        tdir = ddir / "thumbs"
        _private_dir(ddir)
        _private_dir(tdir)
        for i, thumb in enumerate(thumbs, start=first_thumb):
            os.chmod(thumb, 0o600)  # written by the scanner's encoder with the umask's mode
            os.replace(thumb, tdir / f"{i:04d}.png")
        doc.thumbnails = first_thumb - 1 + len(thumbs)
        return self._save(doc, data)

    def edit_pages(self, doc_id: str, pages: list[tuple[int, int]]) -> Document:
        """Re-assemble a scan from its own pages: ``pages`` lists (old page number,
        clockwise rotation in degrees) in the new order; pages left out are deleted.

        Lossless (pikepdf moves the page objects and sets /Rotate); thumbnails follow.
        The PDF, thumbnails and metadata are replaced atomically under the document lock.
        """
        import pikepdf
        from PIL import Image

        with self.doc_lock(doc_id):
            doc = self.get(doc_id)
            if doc.type != PDF:
                raise BridgeError("unsupported_type", detail="page edits need a PDF")
            if not pages:
                raise BridgeError("bad_params", detail="keep at least one page (or delete it)")
            for number, rotate in pages:
                if not 1 <= number <= doc.pages:
                    raise BridgeError("bad_params", detail=f"no page {number}")
                if rotate % 90:
                    raise BridgeError("bad_params", detail="rotate by a multiple of 90")
            ddir = self._doc_dir(doc_id)
            work = self.work_dir()
            try:
                with pikepdf.open(self.file_path(doc)) as old, pikepdf.new() as new:
                    for number, rotate in pages:
                        new.pages.append(old.pages[number - 1])
                        if rotate % 360:
                            new.pages[-1].rotate(rotate % 360, relative=True)
                    out = io.BytesIO()
                    new.save(out)
                data = out.getvalue()
                thumbs = work / "thumbs"
                _private_dir(thumbs)
                for i, (number, rotate) in enumerate(pages, start=1):
                    src = ddir / "thumbs" / f"{number:04d}.png"
                    if not src.exists():
                        continue
                    with Image.open(src) as im:
                        turned = im.rotate(-(rotate % 360), expand=True) if rotate % 360 else im
                        turned.save(thumbs / f"{i:04d}.png", "PNG")
                    os.chmod(thumbs / f"{i:04d}.png", 0o600)
                old_thumbs = work / "old-thumbs"
                if (ddir / "thumbs").exists():
                    os.replace(ddir / "thumbs", old_thumbs)
                os.replace(thumbs, ddir / "thumbs")
                doc.pages = len(pages)
                doc.thumbnails = len(list((ddir / "thumbs").iterdir()))
                doc.size = len(data)
                doc.sha256 = hashlib.sha256(data).hexdigest()
                doc.updated = clock.now()
                return self._save(doc, data)
            finally:
                shutil.rmtree(work, ignore_errors=True)
                memory.release()  # the whole PDF was rebuilt in memory

    def delete(self, doc_id: str) -> bool:
        ddir = self._doc_dir(doc_id)
        # Under the document's lock: a scan appending to it finishes first, and can never
        # re-create the folder of a document deleted meanwhile.
        with self.doc_lock(doc_id):
            if not ddir.exists():
                return False
            # Rename first so a half-deleted folder is never listed as a document.
            grave = self.root / "work" / f"del-{doc_id}-{secrets.token_hex(3)}"
            try:
                os.replace(ddir, grave)
            except FileNotFoundError:
                return False
        shutil.rmtree(grave, ignore_errors=True)
        return True

    def purge_expired(self, now: float | None = None) -> list[str]:
        """Delete documents past their retention and stale uploads; returns deleted ids."""
        now = clock.now() if now is None else now
        gone = []
        for path in list((self.root / "docs").iterdir()):
            try:
                meta = json.loads((path / "meta.json").read_text())
                expired = meta["expires"] <= now
            except (OSError, ValueError, KeyError):
                expired = path.stat().st_mtime + 3600 < now  # broken leftover
            if expired and re.fullmatch(DOC_ID, path.name):
                self.delete(path.name)
                gone.append(path.name)
        for path in list((self.root / "uploads").iterdir()):
            with contextlib.suppress(OSError):
                if path.stat().st_mtime + UPLOAD_IDLE_S < now:
                    path.unlink()
        return gone

    # -- uploads -------------------------------------------------------------------------------
    def upload_begin(self, size: int, sha256: str) -> str:
        if size > self.max_document_bytes:
            raise BridgeError("document_too_large", size=size, limit=self.max_document_bytes)
        self.ensure_space(size)
        upload = new_id("up")
        part = self.root / "uploads" / f"{upload}.part"
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        _write_atomic(
            self.root / "uploads" / f"{upload}.json",
            json.dumps({"size": size, "sha256": sha256}).encode(),
        )
        return upload

    def _upload_paths(self, upload: str) -> tuple[Path, dict[str, Any]]:
        if not re.fullmatch(UPLOAD_ID, upload):
            raise BridgeError("upload_not_found", upload=upload[:40])
        part = self.root / "uploads" / f"{upload}.part"
        try:
            info = json.loads((self.root / "uploads" / f"{upload}.json").read_text())
        except (OSError, ValueError):
            raise BridgeError("upload_not_found", upload=upload) from None
        if not part.exists():
            raise BridgeError("upload_not_found", upload=upload)
        return part, info

    def upload_chunk(
        self, upload: str, offset: int, data: bytes
    ) -> tuple[int, int, Document | None]:
        """Append one chunk at ``offset``; returns (received, size, document-if-complete)."""
        with self.doc_lock(upload):
            part, info = self._upload_paths(upload)
            received = part.stat().st_size
            size = int(info["size"])
            if offset != received:
                raise BridgeError(
                    "bad_params",
                    detail=f"expected offset {received}, got {offset}",
                    details={"expected_offset": received},
                )
            if received + len(data) > size:
                self.upload_abort(upload)
                raise BridgeError("document_too_large", size=received + len(data), limit=size)
            with part.open("ab") as f:
                f.write(data)
            received += len(data)
            if received < size:
                return received, size, None
            meta = self.root / "uploads" / f"{upload}.json"
            try:
                if _sha256_file(part) != info["sha256"]:
                    raise BridgeError("checksum_mismatch")
                doc = self.add_file(part)
            finally:
                with contextlib.suppress(OSError):
                    part.unlink()
                with contextlib.suppress(OSError):
                    meta.unlink()
            return received, size, doc

    def upload_abort(self, upload: str) -> None:
        for suffix in (".part", ".json"):
            with contextlib.suppress(OSError):
                (self.root / "uploads" / f"{upload}{suffix}").unlink()

    def put_bytes(self, data: bytes, sha256: str | None = None) -> Document:
        """A whole small document in one call."""
        if len(data) > self.max_document_bytes:
            raise BridgeError("document_too_large", size=len(data), limit=self.max_document_bytes)
        if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
            raise BridgeError("checksum_mismatch")
        self.ensure_space(len(data))
        tmp = self.work_dir() / "incoming"
        try:
            _write_atomic(tmp, data)
            return self.add_file(tmp)
        finally:
            shutil.rmtree(tmp.parent, ignore_errors=True)

    def iter_ids(self) -> Iterator[str]:
        for path in (self.root / "docs").iterdir():
            if re.fullmatch(DOC_ID, path.name):
                yield path.name


def remove_tree(paths: Iterable[Path]) -> None:
    for p in paths:
        shutil.rmtree(p, ignore_errors=True)
