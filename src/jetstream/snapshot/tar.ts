// Plain ustar archives (what Go's archive/tar writes for nats-server's snapshots): a 512-byte header
// per regular file, its bytes padded to 512, two zero blocks at the end. The writer produces headers
// and padding for files whose bytes the caller streams; the reader is incremental and accepts only
// regular files with relative paths inside the archive (a restore must not write elsewhere).

const BLOCK = 512;

function octal(buf: Buffer, at: number, width: number, v: number): void {
  const s = v.toString(8).padStart(width - 1, '0');
  buf.write(s, at, width - 1, 'latin1');
  buf[at + width - 1] = 0;
}

/** The header block of a regular file. */
export function tarHeader(name: string, size: number, mtimeMs: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  const nb = Buffer.from(name, 'utf8');
  if (nb.length > 100) {
    // ustar prefix/name split at a '/'.
    const cut = name.lastIndexOf('/', 155);
    if (cut <= 0 || Buffer.byteLength(name.slice(cut + 1)) > 100) throw new Error(`tar: name too long: ${name}`);
    h.write(name.slice(cut + 1), 0, 100, 'utf8');
    h.write(name.slice(0, cut), 345, 155, 'utf8');
  } else nb.copy(h, 0);
  octal(h, 100, 8, 0o600);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, Math.floor(mtimeMs / 1000));
  h.fill(0x20, 148, 156); // checksum field counts as spaces
  h[156] = 0x30; // '0' regular file
  h.write('ustar\0', 257, 6, 'latin1');
  h.write('00', 263, 2, 'latin1');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += h[i]!;
  h.write(sum.toString(8).padStart(6, '0'), 148, 6, 'latin1');
  h[154] = 0;
  h[155] = 0x20;
  return h;
}

/** Zero bytes that pad a file of `size` bytes to the block size. */
export function tarPadding(size: number): Buffer {
  const r = size % BLOCK;
  return Buffer.alloc(r === 0 ? 0 : BLOCK - r);
}

/** The end of an archive. */
export function tarEnd(): Buffer {
  return Buffer.alloc(2 * BLOCK);
}

export interface TarSink {
  /** A file starts (its path inside the archive, already checked) ... */
  begin(name: string, size: number): void;
  /** ... its bytes arrive in pieces ... */
  data(bytes: Buffer): void;
  /** ... and it is complete. */
  end(): void;
}

/** Incremental reader: push bytes; files are handed to the sink as they arrive. */
export class TarReader {
  private readonly sink: TarSink;
  private pending: Buffer = Buffer.alloc(0);
  /** Bytes of the current file still to come, then its padding. */
  private left = 0;
  private pad = 0;
  private inFile = false;
  /** Inside a PAX extended header ('x'/'g'): its records are collected, not handed out. */
  private pax: Buffer[] | null = null;
  /** `path` / `size` from a PAX header, for the next entry. */
  private paxPath: string | null = null;
  private paxSize: number | null = null;
  finished = false;

  constructor(sink: TarSink) {
    this.sink = sink;
  }

  private applyPax(b: Buffer): void {
    const recs = parsePax(b);
    const path = recs.get('path');
    const size = recs.get('size');
    if (path !== undefined) this.paxPath = path;
    if (size !== undefined && /^\d+$/.test(size)) this.paxSize = Number(size);
  }

  push(bytes: Buffer): void {
    let buf = this.pending.length === 0 ? bytes : Buffer.concat([this.pending, bytes]);
    for (;;) {
      if (this.finished) {
        this.pending = Buffer.alloc(0);
        return;
      }
      if (this.inFile) {
        if (this.left > 0) {
          if (buf.length === 0) break;
          const n = Math.min(this.left, buf.length);
          if (this.pax !== null) this.pax.push(Buffer.from(buf.subarray(0, n)));
          else this.sink.data(buf.subarray(0, n));
          this.left -= n;
          buf = buf.subarray(n);
          continue;
        }
        if (buf.length < this.pad) break;
        buf = buf.subarray(this.pad);
        this.inFile = false;
        if (this.pax !== null) {
          this.applyPax(Buffer.concat(this.pax));
          this.pax = null;
        } else this.sink.end();
        continue;
      }
      if (buf.length < BLOCK) break;
      const h = buf.subarray(0, BLOCK);
      buf = buf.subarray(BLOCK);
      if (h.every((b) => b === 0)) {
        this.finished = true;
        continue;
      }
      const hd = parseHeader(h);
      const type = hd.type;
      if (type === 'x' || type === 'g') {
        // PAX extended header (Go's archive/tar writes them): records for the next entry.
        this.pax = [];
        this.inFile = true;
        this.left = hd.size;
        this.pad = tarPadding(hd.size).length;
        continue;
      }
      const name = this.paxPath ?? hd.name;
      const size = this.paxSize ?? hd.size;
      this.paxPath = null;
      this.paxSize = null;
      if (type !== '0' && type !== '\0') throw new Error(`tar: unexpected entry type ${JSON.stringify(type)} for ${name}`);
      const parts = name.split('/');
      if (name === '' || name.startsWith('/') || parts.some((p) => p === '..' || p === '')) throw new Error(`tar: unexpected path ${JSON.stringify(name)}`);
      this.sink.begin(name, size);
      this.inFile = true;
      this.left = size;
      this.pad = tarPadding(size).length;
    }
    this.pending = Buffer.from(buf);
  }
}

/** PAX records: `<len> <key>=<value>\n`. */
function parsePax(b: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let p = 0;
  while (p < b.length) {
    const sp = b.indexOf(0x20, p);
    if (sp < 0) break;
    const len = parseInt(b.toString('latin1', p, sp), 10);
    if (!(len > 0) || p + len > b.length) break;
    const rec = b.toString('utf8', sp + 1, p + len - 1);
    const eq = rec.indexOf('=');
    if (eq > 0) out.set(rec.slice(0, eq), rec.slice(eq + 1));
    p += len;
  }
  return out;
}

function parseHeader(h: Buffer): { name: string; size: number; type: string } {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  const want = parseInt(h.toString('latin1', 148, 156).replace(/\0.*$/, '').trim(), 8);
  if (sum !== want) throw new Error('tar: bad header checksum');
  const str = (at: number, n: number): string => {
    const s = h.subarray(at, at + n);
    const z = s.indexOf(0);
    return s.toString('utf8', 0, z < 0 ? n : z);
  };
  let name = str(0, 100);
  const magic = h.toString('latin1', 257, 262);
  if (magic === 'ustar') {
    const prefix = str(345, 155);
    if (prefix !== '') name = `${prefix}/${name}`;
  }
  const size = parseInt(str(124, 12).trim() || '0', 8);
  if (!Number.isFinite(size) || size < 0) throw new Error('tar: bad size');
  const type = String.fromCharCode(h[156]!);
  return { name, size, type };
}
