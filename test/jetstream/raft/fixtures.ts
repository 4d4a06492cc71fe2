// Loads the nats-server traffic and state files captured by scripts/capture-nrg.mjs
// (test/fixtures/nrg/<version>/): traffic.ndjson, servers.json, state/<server>/<group>/...

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Captured {
  t: number;
  subject: string;
  reply: string;
  data: Buffer;
}

export interface ServersJson {
  version: string;
  cluster: string;
  servers: { name: string; groups: string[] }[];
}

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..', '..', 'test', 'fixtures', 'nrg');

export function fixtureVersions(): string[] {
  return readdirSync(root).filter((d) => /^\d+\.\d+\.\d+$/.test(d));
}

export function fixtureDir(version: string): string {
  return join(root, version);
}

export function loadTraffic(version: string): Captured[] {
  const text = readFileSync(join(root, version, 'traffic.ndjson'), 'utf8');
  return text
    .trim()
    .split('\n')
    .map((l) => {
      const r = JSON.parse(l) as { t: number; subject: string; reply: string; data: string };
      return { t: r.t, subject: r.subject, reply: r.reply, data: Buffer.from(r.data, 'base64') };
    });
}

export function loadServers(version: string): ServersJson {
  return JSON.parse(readFileSync(join(root, version, 'servers.json'), 'utf8')) as ServersJson;
}

/** Every state file captured: server, group, file name, bytes. */
export function loadStateFiles(version: string): { server: string; group: string; file: string; data: Buffer }[] {
  const out: { server: string; group: string; file: string; data: Buffer }[] = [];
  const base = join(root, version, 'state');
  for (const server of readdirSync(base)) {
    for (const group of readdirSync(join(base, server))) {
      for (const file of readdirSync(join(base, server, group))) {
        out.push({ server, group, file, data: readFileSync(join(base, server, group, file)) });
      }
    }
  }
  return out;
}
