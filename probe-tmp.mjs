import { connect } from 'nats';
const nc = await connect({ servers: `nats://127.0.0.1:24222` });
const js = nc.jetstream();
const t0 = Date.now();
for (let i = 0; i < 200; i++) {
  try { const a = await js.publish('orders.k', 'z', { timeout: 1000 }); console.log('ok after', Date.now() - t0, 'ms seq', a.seq); break; } catch (e) { await new Promise(r => setTimeout(r, 100)); }
}
const jsm = await nc.jetstreamManager();
const si = await jsm.streams.info('ORDERS');
console.log(JSON.stringify(si.state.last_seq), JSON.stringify(si.cluster));
await nc.close();
