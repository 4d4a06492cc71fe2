// MQTT packet framing (mqtt.go mqttParse / mqttReader): a flat loop over the read buffer that finds
// each packet's fixed header and remaining length and hands the handler the packet's bytes in place
// (buf, start of variable header, end). Nothing is allocated per packet; only a packet split across
// two reads is copied (into `pending`), like nats-server's pbuf.

import { FLAG_MASK, PACKET_MASK, Packet } from './constants.js';

export interface PacketHandler {
  /** One complete packet: type (high nibble), flags (low nibble), body at buf[s, e). */
  onPacket(type: number, flags: number, buf: Buffer, s: number, e: number): void;
  /** A framing error (nats-server's text); the connection closes. */
  onParseError(text: string): void;
  /** True once CONNECT was accepted (before that, only CONNECT may come). */
  readonly connected: boolean;
  /** True when packet processing must stop for now (asynchronous step, or closed). */
  readonly stopped: boolean;
  /** Largest remaining length accepted. */
  readonly maxPacket: number;
}

const GET = Buffer.from('GET ');

export class MqttParser {
  private readonly h: PacketHandler;
  /** The start of a packet that did not fit in the last read. */
  private pending: Buffer | null = null;
  /** Websocket hint: the client speaks HTTP to the MQTT port. */
  isWebsocket = false;

  constructor(h: PacketHandler) {
    this.h = h;
  }

  /**
   * Parses what it can of `chunk` (after any pending bytes). Returns the unparsed rest when the
   * handler stopped parsing (a view: the caller copies it to feed it again later), else null (all
   * consumed, a partial packet kept, or a framing error reported).
   */
  parse(chunk: Buffer): Buffer | null {
    let buf = chunk;
    if (this.pending !== null) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    const h = this.h;
    const n = buf.length;
    let pos = 0;
    while (pos < n) {
      if (h.stopped) return buf.subarray(pos);
      const start = pos;
      const b = buf[pos++]!;
      const type = b & PACKET_MASK;
      if (!h.connected && type !== Packet.CONNECT) {
        if (!this.isWebsocket && start === 0 && buf.length >= 4 && buf.compare(GET, 0, 4, 0, 4) === 0) h.onParseError('MQTT clients over websocket must connect to the Websocket port, not the MQTT port');
        else h.onParseError(`the first packet should be a CONNECT (${Packet.CONNECT}), got ${type}`);
        return null;
      }
      // Remaining length: 1 to 4 bytes of 7 bits, least significant first.
      let len = 0;
      let mul = 1;
      let complete = false;
      while (pos < n) {
        const d = buf[pos++]!;
        len += (d & 0x7f) * mul;
        if ((d & 0x80) === 0) {
          complete = true;
          break;
        }
        mul *= 0x80;
        if (mul > 0x200000) {
          h.onParseError('malformed variable int');
          return null;
        }
      }
      if (!complete || pos + len > n) {
        if (complete && len > h.maxPacket) {
          h.onParseError(`packet of ${len} bytes is larger than the limit of ${h.maxPacket}`);
          return null;
        }
        this.pending = Buffer.from(buf.subarray(start));
        return null;
      }
      h.onPacket(type, b & FLAG_MASK, buf, pos, pos + len);
      pos += len;
    }
    return null;
  }

  /** Drops a partial packet (the connection closed). */
  reset(): void {
    this.pending = null;
  }
}
