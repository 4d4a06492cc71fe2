// Field readers over a packet in place (mqtt.go mqttReader): each returns the new position, or throws
// nats-server's "error reading <field>: ..." when the packet ends too early.

export class PacketReader {
  buf: Buffer = Buffer.alloc(0);
  pos = 0;
  end = 0;

  reset(buf: Buffer, s: number, e: number): this {
    this.buf = buf;
    this.pos = s;
    this.end = e;
    return this;
  }

  get hasMore(): boolean {
    return this.pos < this.end;
  }

  byte(field: string): number {
    if (this.pos >= this.end) throw new Error(`error reading ${field}: EOF`);
    return this.buf[this.pos++]!;
  }

  uint16(field: string): number {
    if (this.end - this.pos < 2) throw new Error(`error reading ${field}: unexpected EOF`);
    const v = (this.buf[this.pos]! << 8) | this.buf[this.pos + 1]!;
    this.pos += 2;
    return v;
  }

  /** A length-prefixed byte string: its start and end in `buf`. */
  bytes(field: string): [number, number] {
    const l = this.uint16(field);
    const s = this.pos;
    if (s + l > this.end) throw new Error(`error reading ${field}: unexpected EOF`);
    this.pos += l;
    return [s, s + l];
  }

  string(field: string): string {
    const [s, e] = this.bytes(field);
    return this.buf.toString('utf8', s, e);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Valid UTF-8 [MQTT-1.5.3]. */
export function validUtf8(buf: Buffer, s: number, e: number): boolean {
  try {
    utf8.decode(buf.subarray(s, e));
    return true;
  } catch {
    return false;
  }
}

/** The packet identifier of PUBACK, PUBREC, PUBREL, PUBCOMP (mqttParsePIPacket). */
export function readPi(buf: Buffer, s: number, e: number): number {
  if (e - s < 2) throw new Error('error reading packet identifier: unexpected EOF');
  const pi = (buf[s]! << 8) | buf[s + 1]!;
  if (pi === 0) throw new Error('packet identifier cannot be 0');
  return pi;
}
