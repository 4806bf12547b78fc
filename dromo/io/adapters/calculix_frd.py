"""The CalculiX ``.frd`` result file (ASCII): a header pass over its blocks (:class:`FrdFile`,
:class:`FrdBlock`) and streamed, vectorized reads of their records.

Corrupt input is never read as valid data: every block must close (``-3``) where its header
says, with the declared number of records of fixed-width fields; every result block follows its
``1PSTEP`` record, keeps the components of the first block of its name, is in time order and is
present at the last increment of its step (``allow_incomplete`` accepts a file without its end record).

Speed: a result block is read in chunks of records of fixed width; the numbers are converted by numpy
(``S12 -> float64``, exact decimal conversion) on whole chunks, never per value in Python. A header
pass (seeking over the data) runs first, so a truncated file fails before anything is written.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

from ...errors import InputError
from ...parallel import get_logger
from . import bad_name as _bad_name

__all__ = ["FrdFile", "FrdBlock", "FRD_SKIP", "FRD_ICTYPES", "check_finite"]

log = get_logger("dromo.import")

FRD_SKIP = {"ERROR", "ERRORI"}
#: component type codes of a -5 record: scalar, vector, tensor, complex vector, complex tensor
FRD_ICTYPES = {1, 2, 4, 12, 14}
CHUNK_BYTES = 1 << 20


@dataclass
class FrdBlock:
    """Header of one nodal result block (``100CL``) of a ``.frd`` file."""

    name: str
    comps: list            # [(name, ictype, ind1, ind2)] of the stored components, file order
    n_records: int
    time: float
    step: int
    increment: int
    numstp: int
    header_line: int       # line number of the 100CL record
    data_line: int         # line number of the first data line
    data_offset: int       # byte offset of the first data line
    id_width: int
    uniform: bool = True   # fixed-width records (fast path)
    rec_len: int = 0
    line_lens: list = field(default_factory=list)
    #: analysis type of the 100CL record (0 static: the time is the total time; 1 time step;
    #: 2 frequency: the "time" is an eigenfrequency; None: unknown)
    atype: Optional[int] = None

    @property
    def n_values(self):
        return len(self.comps)

    @property
    def lines_per_record(self):
        return len(self.line_lens)


def _layout(nvals, id_width, nl):
    """Lengths of the lines of one record (6 values per line)."""
    per = [min(6, nvals - 6 * j) for j in range(max(1, -(-nvals // 6)))]
    return [3 + id_width + 12 * m + nl for m in per], per


class FrdFile:
    """A CalculiX ``.frd`` (ASCII) file: header scan on construction, streamed block reads.

    Attributes: ``node_ids`` (ids of the node block ``2C``), ``blocks`` (list of :class:`FrdBlock`),
    ``increments`` (list of lists of block indices, one per increment, in file order).
    """

    def __init__(self, path, allow_incomplete=False):
        self.path = os.fspath(path)
        self.allow_incomplete = allow_incomplete
        if not os.path.isfile(self.path):
            raise InputError(f"{self.path}: .frd file not found")
        self.size = os.path.getsize(self.path)
        self.node_ids = None
        self.node_line = 0
        self.blocks: List[FrdBlock] = []
        self.increments: List[List[int]] = []
        with open(self.path, "rb") as f:
            first = f.readline()
            if not first:
                raise InputError(f"{self.path}: empty .frd file")
            self.nl = 2 if first.endswith(b"\r\n") else 1
            f.seek(0)
            self._scan(f)

    # ------------------------------------------------------------------ header pass
    def _where(self, line_no):
        return f"{self.path}:{line_no}"

    def _scan(self, f):
        no = 0
        step = inc = 0
        end = False
        pstep = None          # line of the last 1PSTEP record (None: the file has none)
        after_pstep = False   # the previous line was a 1PSTEP record
        while True:
            line = f.readline()
            if not line:
                break
            no += 1
            if not line.endswith(b"\n"):
                raise InputError(f"{self._where(no)}: the file ends inside a line (truncated .frd file)")
            key = line[:5].strip()
            if key == b"1":
                if line[5:10] == b"PSTEP":
                    t = line[10:].split()
                    try:
                        if len(t) != 3:
                            raise ValueError
                        inc, step = int(t[1]), int(t[2])
                    except ValueError:
                        raise InputError(f"{self._where(no)}: bad 1PSTEP record {line!r}") from None
                    if pstep is None and self.blocks:
                        raise InputError(f"{self._where(no)}: 1PSTEP record after result blocks "
                                         f"without one (line {self.blocks[0].header_line}): a "
                                         f"deleted 1PSTEP record? (corrupted .frd file)")
                    pstep, after_pstep = no, True
                continue            # other 1P/1U user records (1PGM, 1PMODE ...) may follow 1PSTEP
            if key == b"100" and pstep is not None and not after_pstep:
                # ccx writes a 1PSTEP record (step and increment numbers) before every result block
                raise InputError(f"{self._where(no)}: result block without its 1PSTEP record (the "
                                 f"last one is at line {pstep}; corrupted .frd file)")
            after_pstep = False
            if key == b"2":
                no = self._node_block(f, line, no)
            elif key == b"3":
                no = self._element_block(f, line, no)
            elif key == b"100":
                no = self._result_block(f, line, no, step, inc)
            elif key == b"9999":
                end = True
                break
            elif not line.strip():
                continue
            else:
                raise InputError(f"{self._where(no)}: unexpected record {line[:20]!r} "
                                 f"(not a CalculiX ASCII .frd file, or corrupted)")
        if not end and self.allow_incomplete and self.node_ids is not None:
            log.warning("%s: no end record 9999 (ccx stopped early?): importing the %d complete "
                        "result blocks", self.path, len(self.blocks))
        elif not end:
            raise InputError(f"{self._where(no)}: the .frd file ends without its end record 9999 "
                             f"(truncated: ccx killed or still running? allow_incomplete / "
                             f"--allow-incomplete imports its complete blocks)")
        if self.node_ids is None:
            raise InputError(f"{self.path}: no node block (2C) in the .frd file")
        # group the result blocks into increments: a new increment when (numstp, time) changes
        prev = None
        last = {}                               # block name -> index of its previous block
        for i, b in enumerate(self.blocks):
            key = (b.numstp, b.time, b.step)
            if key != prev:
                self.increments.append([])
                prev, first = key, i
            j = None if b.name in FRD_SKIP else last.get(b.name)
            # time order within a static step only (analysis type 0: the total time); the "time"
            # of a *FREQUENCY step is an eigenfrequency, of a steady-state dynamics step a phase
            if j is not None and ((b.time < self.blocks[j].time and b.step == self.blocks[j].step
                                   and b.atype == 0 == self.blocks[j].atype) or j >= first):
                p = self.blocks[j]
                why = "out of time order" if b.time < p.time else "twice in one increment"
                raise InputError(f"{self._where(b.header_line)}: block {b.name} (time {b.time:g}, "
                                 f"step {b.step}, increment {b.increment}) after block {b.name} of "
                                 f"line {p.header_line} (time {p.time:g}): {why}")
            last[b.name] = i
            self.increments[-1].append(i)
        first = {}
        for b in self.blocks:
            f0 = first.setdefault(b.name, b)
            if b.comps != f0.comps:
                raise InputError(f"{self._where(b.header_line)}: block {b.name} has the components "
                                 f"{[c[:4] for c in b.comps]}, its first block (line "
                                 f"{f0.header_line}) {[c[:4] for c in f0.comps]}")
        if not self.allow_incomplete:
            self._check_step_ends()

    def step_times(self):
        """[(first time, last time)] of the increments of each static analysis step (1PSTEP numbers;
        other steps' "times" are frequencies or phases)."""
        spans = {}
        for g in self.increments:
            b = self.blocks[g[0]]
            if b.atype != 0:
                continue
            lo, hi = spans.get(b.step, (b.time, b.time))
            spans[b.step] = (min(lo, b.time), max(hi, b.time))
        return list(spans.values())

    def _check_step_ends(self):
        """ccx writes every requested block at the last increment of a step: a block that a step
        holds but not at its last increment lost blocks (or its name is corrupted)."""
        step_last = {}                         # step -> blocks of its last increment
        for g in self.increments:
            step_last[self.blocks[g[0]].step] = {self.blocks[i].name for i in g}
        seen = {}
        for g in self.increments:
            for i in g:
                b = self.blocks[i]
                seen[(b.step, b.name)] = b
        for (step, name), b in seen.items():
            if name not in FRD_SKIP and name not in step_last[step]:
                raise InputError(f"{self._where(b.header_line)}: block {name} (step {step}, last at "
                                 f"time {b.time:g}, increment {b.increment}) is missing from the "
                                 f"last increment of its step: lost blocks or a corrupted block "
                                 f"name (--allow-incomplete imports what the file holds)")

    def _skip_to_end(self, f, no, what, n_records=None):
        """Seek past the block's end record `` -3`` (chunked), checking on the way that every line
        before it is a record line (`` -1`` or `` -2``) and, if ``n_records`` is given, that the block
        holds that many `` -1`` records. ``no`` is the line number of the block's last header line;
        returns the line number of the `` -3`` line."""
        start, count = no, 0
        pos = f.tell()                       # file offset of buf[0]
        carry = b""
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                raise InputError(f"{self._where(start)}: {what} has no end record -3 "
                                 f"(truncated .frd file, ends at line {no + (1 if carry else 0)})")
            buf = carry + chunk
            cut = buf.rfind(b"\n") + 1
            body, carry = buf[:cut], buf[cut:]
            if not body:
                continue
            nl_body = b"\n" + body
            k3 = nl_body.find(b"\n -3")
            region = nl_body if k3 < 0 else nl_body[:k3 + 1]
            n_lines = region.count(b"\n") - 1
            n_rec = region.count(b"\n -1")
            if n_rec + region.count(b"\n -2") != n_lines:
                lines = region[1:].split(b"\n")
                j = next(i for i, l in enumerate(lines) if not l.startswith((b" -1", b" -2")))
                raise InputError(f"{self._where(no + 1 + j)}: {what} (line {start}) ends without its "
                                 f"end record -3: found {lines[j][:30]!r}, expected a -1/-2 record "
                                 f"or -3 (corrupted .frd file)")
            count += n_rec
            no += n_lines
            if k3 >= 0:
                no += 1
                if n_records is not None and count != n_records:
                    raise InputError(f"{self._where(start)}: {what} declares {n_records} records, "
                                     f"found {count} before its end record (line {no})")
                f.seek(pos + body.index(b"\n", k3) + 1)
                return no
            pos += len(body)

    @staticmethod
    def _int(s, default=None):
        try:
            return int(s)
        except ValueError:
            return default

    def _count_header(self, line, no, what):
        """(record count, format) of a ``2C``/``3C`` header; InputError unless the count is >= 0."""
        t = line.split()
        n = self._int(t[1]) if len(t) > 1 else None
        fmt = self._int(t[-1]) if len(t) > 2 else 1
        if n is None or n < 0:
            raise InputError(f"{self._where(no)}: bad {what} header {line.rstrip()[:80]!r}"
                             + (f" (negative count {n})" if n is not None else ""))
        return n, fmt

    def _element_block(self, f, line, no):
        n, _fmt = self._count_header(line, no, "element block 3C")
        return self._skip_to_end(f, no, "element block 3C", n_records=n)

    def _node_block(self, f, line, no):
        n, fmt = self._count_header(line, no, "node block 2C")
        if fmt not in (0, 1):
            raise InputError(f"{self._where(no)}: binary .frd (format {fmt}) is not supported: "
                             f"write ASCII output (CalculiX's default)")
        idw = 10 if fmt == 1 else 5
        blk = FrdBlock("COORD", [("x", 1, 1, 0), ("y", 1, 2, 0), ("z", 1, 3, 0)], n, 0.0, 0, 0, 0,
                       no, no + 1, f.tell(), idw)
        no = self._measure(f, blk, no)
        ids = []
        for chunk_ids, _vals in self.read_block(blk, values=False):
            ids.append(chunk_ids)
        self.node_ids = np.concatenate(ids) if ids else np.zeros(0, np.int64)
        self.node_line = blk.header_line
        f.seek(blk.data_offset + (blk.rec_len * n if blk.uniform else 0))
        if not blk.uniform:
            return self._skip_to_end(f, blk.data_line - 1, "node block 2C", n_records=n)
        f.readline()
        return no

    def _result_block(self, f, line, no, step, inc):
        head_no = no
        atype = None
        try:
            if len(line.rstrip(b"\r\n")) >= 75:
                time = float(line[12:24])
                n = int(line[24:36])
                numstp = int(line[58:63])
                fmt = int(line[73:75])
                atype = self._int(line[56:58])
            else:
                raise ValueError
        except ValueError:
            t = line.split()
            try:
                time, n, numstp, fmt = float(t[2]), int(t[3]), int(t[-2]), int(t[-1])
            except (IndexError, ValueError):
                raise InputError(f"{self._where(no)}: bad result header (100C) {line!r}") from None
        if fmt not in (0, 1):
            raise InputError(f"{self._where(no)}: binary .frd (format {fmt}) is not supported: "
                             f"write ASCII output (CalculiX's default)")
        if n < 0:
            raise InputError(f"{self._where(no)}: result header (100C) declares a negative number "
                             f"of records ({n})")
        if not np.isfinite(time):
            raise InputError(f"{self._where(no)}: result header (100C) has a non-finite time "
                             f"{line[12:24].decode(errors='replace').strip()!r} (step {step}, "
                             f"increment {inc})")
        h4 = f.readline()
        no += 1
        if not h4.startswith(b" -4"):
            raise InputError(f"{self._where(no)}: expected the -4 record after 100C, got {h4[:30]!r}"
                             + (" (truncated file)" if not h4 else ""))
        name = h4[5:13].decode(errors="replace").strip()
        ncomp = self._int(h4[13:18])
        irtype = self._int(h4[18:23], 1)
        if ncomp is None or ncomp < 0:
            raise InputError(f"{self._where(no)}: bad -4 record {h4.rstrip()[:60]!r}")
        bad_name = _bad_name(name)
        if bad_name:
            raise InputError(f"{self._where(no)}: result block name {name!r} {bad_name} "
                             f"(corrupted .frd file?)")
        comps = []
        for _ in range(ncomp):
            h5 = f.readline()
            no += 1
            if not h5.startswith(b" -5"):
                raise InputError(f"{self._where(no)}: expected a -5 record of block {name}, got "
                                 f"{h5[:30]!r}" + (" (truncated file)" if not h5 else ""))
            cname = h5[5:13].decode(errors="replace").strip()
            vals = [self._int(h5[13 + 5 * k: 18 + 5 * k], 0) for k in range(5)]
            _menu, ictype, i1, i2, iexist = vals
            if not cname or not cname.isascii() or not cname.isprintable():
                raise InputError(f"{self._where(no)}: block {name}: bad component name {cname!r} "
                                 f"(corrupted .frd file?)")
            if ictype not in FRD_ICTYPES:
                raise InputError(f"{self._where(no)}: block {name}: component {cname!r} has the "
                                 f"unknown type code {h5[18:23].decode(errors='replace').strip()!r} "
                                 f"(known: {', '.join(map(str, sorted(FRD_ICTYPES)))})")
            if iexist == 1:        # computed by the post-processor (e.g. ALL), not stored
                continue
            comps.append((cname, ictype, i1, i2))
        idw = 10 if fmt == 1 else 5
        blk = FrdBlock(name, comps, n, time, step, inc, numstp, head_no, no + 1, f.tell(), idw)
        blk.atype = atype
        if irtype not in (1, None) or not comps:
            blk.uniform = False
            log.warning("%s: block %s (result type %s) is not nodal data; skipped",
                        self._where(head_no), name, irtype)
            return self._skip_to_end(f, no, f"block {name}")
        no = self._measure(f, blk, no)
        self.blocks.append(blk)
        return no

    def _measure(self, f, blk, no):
        """Set the record layout, seek over the data and check the -3 end; returns the line number."""
        lens, _per = _layout(blk.n_values, blk.id_width, self.nl)
        blk.line_lens = lens
        blk.rec_len = sum(lens)
        end = blk.data_offset + blk.rec_len * blk.n_records
        where = (f"{self._where(blk.header_line)}: block {blk.name} (time {blk.time:g}) declares "
                 f"{blk.n_records} records")
        if end > self.size:
            raise InputError(f"{where} but the file ends before them (truncated .frd file)")
        f.seek(end)
        tail = f.readline()
        if tail.startswith(b" -3"):
            return no + blk.n_records * len(lens) + 1
        # not fixed-width: scan the lines (slow path)
        blk.uniform = False
        f.seek(blk.data_offset)
        count = 0
        while True:
            line = f.readline()
            if not line:
                raise InputError(f"{where}: no end record -3 (truncated .frd file)")
            if line.startswith(b" -3"):
                break
            if line.startswith(b" -1"):
                count += 1
            elif not line.startswith(b" -2"):
                raise InputError(f"{self._where(blk.data_line)}: unexpected line in block "
                                 f"{blk.name}: {line[:30]!r}")
        if count != blk.n_records:
            raise InputError(f"{where}, found {count}")
        return no + 1  # line numbers are approximate after a non-uniform block

    # ------------------------------------------------------------------ data
    def read_block(self, blk, values=True, chunk_bytes=CHUNK_BYTES, start=0, stop=None):
        """Yield ``(ids (k,) int64, values (k, n_values) float64)`` chunks of a block, file order.

        ``start``, ``stop``: the range of records to read (fixed-width blocks only; default all): the
        byte range ``[data_offset + start·rec_len, data_offset + stop·rec_len)`` of the file, which
        begins and ends at record starts (what each rank reads in a parallel import).
        """
        if not blk.uniform:
            yield self._read_slow(blk, values)
            return
        yield from read_records(self.path, blk, self.nl, values, chunk_bytes, start, stop)

    def _read_slow(self, blk, values):
        ids, rows, cur = [], [], None
        w = blk.id_width
        with open(self.path, "rb") as f:
            f.seek(blk.data_offset)
            no = blk.data_line - 1
            while True:
                line = f.readline()
                no += 1
                if not line or line.startswith(b" -3"):
                    break
                body = line.rstrip(b"\r\n")
                try:
                    if body.startswith(b" -1"):
                        ids.append(int(body[3:3 + w]))
                        cur = []
                        rows.append(cur)
                    elif cur is None:
                        raise ValueError("continuation before a record")
                    data = body[3 + w:].rstrip(b" ")
                    if len(data) % 12 or not data:
                        raise ValueError(f"{len(data)} characters of values, not 12 per value: "
                                         f"a fixed-width field was cut or widened")
                    cur.extend(float(data[i:i + 12]) for i in range(0, len(data), 12)
                               if data[i:i + 12].strip())
                except ValueError as exc:
                    raise InputError(f"{self._where(no)}: block {blk.name}: bad record "
                                     f"{line[:40]!r} ({exc})") from None
        bad = [i for i, r in enumerate(rows) if len(r) != blk.n_values]
        if bad:
            raise InputError(f"{self.path}: block {blk.name} (time {blk.time:g}): record of node "
                             f"{ids[bad[0]]} has {len(rows[bad[0]])} values, expected {blk.n_values}")
        vals = np.array(rows, dtype=np.float64).reshape(len(rows), blk.n_values) if values else None
        return np.array(ids, dtype=np.int64), vals


def read_records(path, blk, nl, values=True, chunk_bytes=CHUNK_BYTES, start=0, stop=None):
    """Records ``[start, stop)`` of the fixed-width block ``blk`` of the ``.frd`` ``path`` (line ends of
    ``nl`` bytes), as chunks ``(ids (k,) int64, values (k, n_values) float64 or None)``, file order.
    Every record is checked (`` -1``/`` -2`` markers, line ends, numbers): InputError naming the line."""
    lens, per = _layout(blk.n_values, blk.id_width, nl)
    R = blk.rec_len
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    cols = np.concatenate([s + 3 + blk.id_width + np.arange(12 * m) for s, m in zip(starts, per)])
    nl_cols = (starts + np.array(lens) - 1)
    per_chunk = max(1, chunk_bytes // R)
    stop = blk.n_records if stop is None else min(int(stop), blk.n_records)
    with open(path, "rb") as f:
        f.seek(blk.data_offset + start * R)
        done = start
        while done < stop:
            k = min(per_chunk, stop - done)
            buf = f.read(k * R)
            if len(buf) != k * R:
                raise InputError(f"{_where(path, blk.data_line + done * len(lens))}: block "
                                 f"{blk.name}: the file ends inside the data (truncated)")
            a = np.frombuffer(buf, dtype=np.uint8).reshape(k, R)
            ok = (a[:, 1] == 45) & (a[:, 2] == 49) & (a[:, nl_cols[-1]] == 10)
            for s in starts[1:]:
                ok &= (a[:, s + 1] == 45) & (a[:, s + 2] == 50)
            if not ok.all():
                r = done + int(np.flatnonzero(~ok)[0])
                raise InputError(f"{_where(path, blk.data_line + r * len(lens))}: block "
                                 f"{blk.name}: malformed record (expected ' -1' + "
                                 f"{len(lens) - 1} continuation line(s))")
            try:
                ids = _decode_int(a[:, 3:3 + blk.id_width])
                vals = None
                if values:
                    vals = _decode_e12(a[:, cols].reshape(-1, 12)).reshape(k, -1)
            except ValueError as exc:
                r = done + _first_bad(a, cols, blk.id_width, values)
                raise InputError(f"{_where(path, blk.data_line + r * len(lens))}: block "
                                 f"{blk.name}: not a number ({exc})") from None
            done += k
            yield ids, vals



def _where(path, line_no):
    return f"{path}:{line_no}"


_P10 = 10.0 ** np.arange(23)          # exact powers of ten (10**22 is the last exact double)


def _decode_e12(d):
    """(m, 12) uint8 fields written by ``%12.5E`` -> (m,) float64, exactly as ``float()`` would.

    ``[sign|space] d . ddddd E [+-] dd``: the value is the integer mantissa (6 digits) times
    10**(e-5), computed as one correctly rounded multiplication or division by an exact power of ten,
    so it equals the correctly rounded decimal conversion. Fields of another form (NaN, Inf, three-digit
    exponents) and exponents beyond the exact powers (|e - 5| > 22: tiny values) go through numpy's
    string conversion. ValueError on a field that is no number.
    """
    m = len(d)
    if m == 0:
        return np.zeros(0)
    t = np.ascontiguousarray(d.T)                       # (12, m): contiguous rows per character
    rows = [1, 3, 4, 5, 6, 7, 10, 11]
    g = t[rows] - np.uint8(48)                           # digits 0..9, anything else >= 10 (wraps)
    gi = g.astype(np.int32)
    mant = gi[0] * 100000
    mant += gi[1] * 10000
    mant += gi[2] * 1000
    mant += gi[3] * 100
    mant += gi[4] * 10
    mant += gi[5]
    neg_e = t[9] == 45
    e = gi[6] * 10 + gi[7]
    e = np.where(neg_e, -e, e) - 5
    ok = (g < 10).all(axis=0)
    ok &= (t[2] == 46) & (t[8] == 69) & (neg_e | (t[9] == 43)) & ((t[0] == 32) | (t[0] == 45))
    ok &= (e >= -22) & (e <= 22)
    zero = mant == 0
    ok |= zero & (t[2] == 46) & (t[8] == 69)             # zeros: exact whatever the exponent
    p = _P10[np.minimum(np.abs(e), 22)]
    val = mant.astype(np.float64)
    np.divide(val, p, out=val, where=e < 0)
    np.multiply(val, p, out=val, where=e >= 0)
    np.negative(val, out=val, where=t[0] == 45)
    bad = np.flatnonzero(~ok)
    if bad.size:
        odd = d[bad]
        if ((odd < 32) | (odd > 126)).any():      # numpy would drop trailing NUL bytes silently
            raise ValueError("control or non-ASCII byte in a number field")
        val[bad] = np.ascontiguousarray(odd).view("S12").ravel().astype(np.float64)
    return val


def _decode_int(d):
    """(m, w) uint8 right-aligned integers (spaces before) -> (m,) int64; ValueError if not digits."""
    dg = d.astype(np.int64) - 48
    blank = d == 32
    if ((~blank) & ((dg < 0) | (dg > 9))).any() or blank[:, -1].any():
        raise ValueError("not an integer field")
    dg[blank] = 0
    out = np.zeros(len(d), dtype=np.int64)
    for j in range(d.shape[1]):
        out = out * 10 + dg[:, j]
    return out


def _first_bad(a, cols, idw, values):
    for r in range(len(a)):
        try:
            int(bytes(a[r, 3:3 + idw]))
            if values:
                row = bytes(a[r, cols])
                [float(row[i:i + 12]) for i in range(0, len(row), 12)]
        except ValueError:
            return r
    return 0


def check_finite(vals, ids, blk, pos, frd):
    """InputError naming the line, node, component and increment of the first NaN/Inf value.

    ``pos``: the record index of ``vals[0]`` in the block; ``frd``: the :class:`FrdFile` or its path."""
    ok = np.isfinite(vals)
    if ok.all():
        return
    r, c = np.argwhere(~ok)[0]
    line = blk.data_line + (pos + r) * blk.lines_per_record + c // 6
    raise InputError(f"{getattr(frd, 'path', frd)}:{line}: block {blk.name}, node {ids[r]}, component "
                     f"{blk.comps[c][0]}: value {vals[r, c]} (step {blk.step}, increment "
                     f"{blk.increment}, time {blk.time:g}) is not finite (--allow-nonfinite "
                     f"keeps such values)")


