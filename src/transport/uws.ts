// uWebSockets.js through the npm package uws-pack, which ships its binaries: the HTTP and WebSocket
// engine where it loads. It does not load on Node 24 (uws-pack has binaries for Node 18-22 only) or
// on platforms without a binary; then, or with --native-free, the pure-Node transports in
// native-free/ and node:http take over with the same behaviour.

export type Uws = typeof import('uws-pack');

let cached: { mod: Uws | null; reason: string } | null = null;

export async function loadUws(nativeFree: boolean): Promise<{ mod: Uws | null; reason: string }> {
  if (nativeFree) return { mod: null, reason: '--native-free' };
  if (cached !== null) return cached;
  try {
    const mod = (await import('uws-pack')) as Uws;
    if (typeof mod.App !== 'function') throw new Error('no App in uws-pack');
    cached = { mod, reason: '' };
  } catch (err) {
    cached = { mod: null, reason: (err as Error).message.split('\n')[0]!.slice(0, 200) };
  }
  return cached;
}
