import { connect } from 'nats';
const port = process.argv[2] ?? '24221';
const nc = await connect({ servers: `nats://127.0.0.1:${port}` });
const jsm = await nc.jetstreamManager();
try { console.log(JSON.stringify(await jsm.getAccountInfo())); } catch (e) { console.log('info err', e.message); }
try { const si = await jsm.streams.add({ name: 'ORDERS', subjects: ['orders.>'], num_replicas: 3 }); console.log('created', JSON.stringify(si.cluster)); } catch (e) { console.log('add', e.message); }
const js = nc.jetstream();
for (let i = 0; i < 5; i++) { try { console.log(await js.publish('orders.' + i, 'x')); } catch (e) { console.log('pub', e.message); } }
try { console.log(JSON.stringify((await jsm.streams.info('ORDERS')).state)); } catch (e) { console.log('info', e.message); }
try { await jsm.streams.add({ name: 'R5', subjects: ['r5.>'], num_replicas: 5 }); } catch (e) { console.log('R5:', e.message, JSON.stringify(e.api_error)); }
try { const ci = await jsm.consumers.add('ORDERS', { durable_name: 'D', ack_policy: 'explicit' }); console.log('consumer', JSON.stringify(ci.cluster)); } catch (e) { console.log('cons', e.message); }
try { const c = await js.consumers.get('ORDERS', 'D'); const it = await c.fetch({ max_messages: 5, expires: 3000 }); let n = 0; for await (const m of it) { m.ack(); n++; } console.log('fetched', n); } catch (e) { console.log('fetch', e.message); }
try { const ci = await jsm.consumers.info('ORDERS', 'D'); console.log('cinfo', JSON.stringify(ci.ack_floor), JSON.stringify(ci.delivered)); } catch (e) { console.log('cinfo', e.message); }
console.log((await jsm.streams.names().next()));
await nc.close();
