// One-pass reading of the headers a JetStream publish is checked against (src/jetstream/headers.ts
// scanPublishHeaders): the same answers as one getHeader call per name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getHeader, newPublishHeaders, scanPublishHeaders } from '../../src/jetstream/headers.js';

const NAMES = {
  msgId: 'Nats-Msg-Id',
  expectedStream: 'Nats-Expected-Stream',
  expectedLastSeq: 'Nats-Expected-Last-Sequence',
  expectedLastSubjSeq: 'Nats-Expected-Last-Subject-Sequence',
  expectedLastSubjSeqSubj: 'Nats-Expected-Last-Subject-Sequence-Subject',
  expectedLastMsgId: 'Nats-Expected-Last-Msg-Id',
  rollup: 'Nats-Rollup',
} as const;

function agree(block: string): void {
  const buf = Buffer.from(block, 'utf8');
  const out = newPublishHeaders();
  scanPublishHeaders(buf, out);
  for (const [field, name] of Object.entries(NAMES)) {
    assert.equal(out[field as keyof typeof NAMES], getHeader(buf, name), `${name} in ${JSON.stringify(block)}`);
  }
}

test('scanPublishHeaders reads each publish header as getHeader does', () => {
  agree('NATS/1.0\r\nNats-Msg-Id: abc\r\n\r\n');
  agree('NATS/1.0\r\nFoo: 1\r\nNats-Msg-Id:  spaced \t\r\nNats-Rollup: sub\r\nNats-Expected-Stream: S\r\n\r\n');
  agree(
    'NATS/1.0\r\nNats-Expected-Last-Sequence: 12\r\nNats-Expected-Last-Subject-Sequence: 7\r\n' +
      'Nats-Expected-Last-Subject-Sequence-Subject: a.b\r\nNats-Expected-Last-Msg-Id: prev\r\n\r\n',
  );
  // First occurrence wins; keys are case-sensitive; a longer key is another header.
  agree('NATS/1.0\r\nNats-Msg-Id: one\r\nNats-Msg-Id: two\r\nnats-msg-id: lower\r\nNats-Msg-Id-X: other\r\n\r\n');
  // Lines after the blank line are not headers; a value may be empty.
  agree('NATS/1.0\r\nNats-Rollup:\r\n\r\nNats-Msg-Id: late\r\n');
  // Status line with a code; bare LF line ends.
  agree('NATS/1.0 100 Idle\nNats-Msg-Id: lf\n\n');
});

test('scanPublishHeaders leaves every field null for a block that is not a NATS header block', () => {
  const out = newPublishHeaders();
  out.msgId = 'stale';
  scanPublishHeaders(Buffer.from('HTTP/1.1\r\nNats-Msg-Id: x\r\n\r\n'), out);
  assert.deepEqual(out, newPublishHeaders());
  scanPublishHeaders(Buffer.from('NATS/1.0\r\nNats-Msg-Id: y\r\n\r\n'), out);
  assert.equal(out.msgId, 'y');
  scanPublishHeaders(Buffer.from('NATS/1.0\r\nFoo: z\r\n\r\n'), out);
  assert.equal(out.msgId, null, 'a later block without the header clears the previous value');
});
