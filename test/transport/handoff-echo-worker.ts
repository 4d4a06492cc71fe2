// Test worker for handoff.test.ts: adopts handed-off sockets and echoes "<tag>:<data>" back.
import { workerData, parentPort } from 'node:worker_threads';
import { HandoffReceiver, socketFromHandle } from '../../src/transport/handoff.js';

const receiver = new HandoffReceiver((workerData as { fd: number }).fd, (handle, tag) => {
  const s = socketFromHandle(handle);
  s.on('error', () => {});
  s.on('data', (d) => s.write(`${tag}:${d.toString()}`));
  s.on('end', () => s.end());
});
parentPort!.on('message', (m: string) => {
  if (m === 'close') {
    receiver.close();
    parentPort!.postMessage('closed');
  }
});
parentPort!.postMessage('ready');
