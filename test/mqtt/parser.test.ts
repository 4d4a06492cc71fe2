// The MQTT packet framing (src/mqtt/parser.ts): packets split anywhere across reads, several packets
// in one read, the remaining-length encoding limits, CONNECT first, an HTTP request on the MQTT port.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MqttParser, type PacketHandler } from '../../src/mqtt/parser.js';
import { writeVarInt, varIntSize } from '../../src/mqtt/writer.js';

class Sink implements PacketHandler {
  connected = true;
  stopped = false;
  maxPacket = 1 << 20;
  readonly packets: string[] = [];
  readonly errors: string[] = [];
  onPacket(type: number, flags: number, buf: Buffer, s: number, e: number): void {
    this.packets.push(`${type.toString(16)}/${flags}/${buf.toString('latin1', s, e)}`);
  }
  onParseError(text: string): void {
    this.errors.push(text);
  }
}

function packet(type: number, flags: number, body: string): Buffer {
  const b = Buffer.from(body, 'latin1');
  const out = Buffer.alloc(1 + varIntSize(b.length) + b.length);
  out[0] = type | flags;
  const p = writeVarInt(out, 1, b.length);
  b.copy(out, p);
  return out;
}

test('packets split at every byte boundary are reassembled', () => {
  const big = 'x'.repeat(300); // a two-byte remaining length
  const all = Buffer.concat([packet(0x30, 2, 'hello'), packet(0xc0, 0, ''), packet(0x30, 0, big)]);
  for (let cut = 0; cut <= all.length; cut++) {
    const sink = new Sink();
    const p = new MqttParser(sink);
    assert.equal(p.parse(all.subarray(0, cut)), null);
    assert.equal(p.parse(all.subarray(cut)), null);
    assert.deepEqual(sink.packets, ['30/2/hello', 'c0/0/', `30/0/${big}`], `cut at ${cut}`);
    assert.deepEqual(sink.errors, []);
  }
});

test('the remaining length takes at most four bytes', () => {
  const sink = new Sink();
  new MqttParser(sink).parse(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]));
  assert.deepEqual(sink.errors, ['malformed variable int']);
  const b = Buffer.alloc(8);
  assert.equal(writeVarInt(b, 0, 268_435_455), 4);
  assert.deepEqual([...b.subarray(0, 4)], [0xff, 0xff, 0xff, 0x7f]);
});

test('a packet announced larger than the limit is refused before it is buffered', () => {
  const sink = new Sink();
  sink.maxPacket = 1000;
  new MqttParser(sink).parse(Buffer.from([0x30, 0xe9, 0x07, 1, 2, 3])); // 1001 bytes announced
  assert.equal(sink.errors.length, 1);
  assert.match(sink.errors[0]!, /larger than the limit/);
});

test('the first packet must be CONNECT; an HTTP request gets the websocket hint', () => {
  const sink = new Sink();
  sink.connected = false;
  new MqttParser(sink).parse(packet(0x30, 0, 'x'));
  assert.deepEqual(sink.errors, ['the first packet should be a CONNECT (16), got 48']);
  const s2 = new Sink();
  s2.connected = false;
  new MqttParser(s2).parse(Buffer.from('GET /mqtt HTTP/1.1\r\n'));
  assert.deepEqual(s2.errors, ['MQTT clients over websocket must connect to the Websocket port, not the MQTT port']);
});

test('a handler that stops parsing gets the unparsed rest back', () => {
  const sink = new Sink();
  const p = new MqttParser(sink);
  const orig = sink.onPacket.bind(sink);
  sink.onPacket = (t, f, b, s, e) => {
    orig(t, f, b, s, e);
    sink.stopped = true;
  };
  const rest = p.parse(Buffer.concat([packet(0x30, 0, 'a'), packet(0x30, 0, 'b')]));
  assert.deepEqual(sink.packets, ['30/0/a']);
  assert.ok(rest !== null);
  sink.stopped = false;
  assert.equal(p.parse(Buffer.from(rest)), null);
  assert.deepEqual(sink.packets, ['30/0/a', '30/0/b']);
});
