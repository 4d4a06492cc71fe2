// Configuration given as a JavaScript object (the library's `startServer({ maxPayload: 1024 })`):
// the nats.conf keys in camelCase, turned back into the parsed-file shape and read by the same
// loader as a config file (load.ts), so a key means exactly what it means in nats.conf. Config text
// and a config file can sit under it; the object's top-level keys replace theirs, as a key written
// twice in nats.conf keeps its last value.

import { parseConf, parseConfFile, type ConfMap, type ConfValue, type ParsedConf } from './conf.js';
import { ConfigError, loadParsed, type LoadedConfig } from './load.js';

/** A value as the object form takes it: what nats.conf can write. */
export type ConfigValue = string | number | boolean | readonly ConfigValue[] | ConfigBlock;
export interface ConfigBlock {
  readonly [key: string]: ConfigValue | undefined;
}

/** Maps whose keys are names chosen by the user (kept as written), not config keys (converted). */
const NAME_KEYED = new Set(['accounts', 'mappings']);

/** `maxPayload` → `max_payload`; a key already in snake_case (or one word) is unchanged. */
export function snakeCase(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

function convert(v: ConfigValue, path: string, namesHere: boolean): ConfValue {
  if (Array.isArray(v)) return (v as readonly ConfigValue[]).map((x, i) => convert(x, `${path}[${i}]`, false));
  if (v !== null && typeof v === 'object') {
    const out: ConfMap = {};
    for (const [k, x] of Object.entries(v as ConfigBlock)) {
      if (x === undefined || x === null) continue;
      const key = namesHere ? k : snakeCase(k);
      out[key] = convert(x, path === '' ? key : `${path}.${key}`, !namesHere && NAME_KEYED.has(key));
    }
    return out;
  }
  if (typeof v === 'number' && !Number.isFinite(v)) throw new ConfigError(`${path}: expected a finite number, got ${v}`);
  if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw new ConfigError(`${path}: unsupported value of type ${typeof v}`);
  return v;
}

/** The object's keys in nats.conf spelling (top level and nested blocks). */
export function objectToConf(obj: ConfigBlock): ConfMap {
  return convert(obj, '', false) as ConfMap;
}

export interface ConfigSources {
  /** A nats.conf file (as `-c`). */
  file?: string;
  /** nats.conf text (includes resolve from the current directory). */
  text?: string;
  /** camelCase keys, over the file's and the text's. */
  object?: ConfigBlock;
}

/**
 * Reads the layers into one set of options, as the loader reads a file: unknown keys become
 * warnings, wrong values a ConfigError naming the key (with file:line:col when it came from text).
 */
export function loadConfigSources(src: ConfigSources): LoadedConfig & { keys: ConfMap } {
  const layers: ParsedConf[] = [];
  try {
    if (src.file !== undefined) layers.push(parseConfFile(src.file));
    if (src.text !== undefined) layers.push(parseConf(src.text, '<config>'));
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  if (src.object !== undefined) layers.push({ value: objectToConf(src.object), positions: new Map() });
  const merged: ParsedConf = { value: {}, positions: new Map(), usedVariables: new Set() };
  for (const l of layers) {
    // A key set again replaces the earlier value, and with it the place errors would point at.
    for (const k of Object.keys(l.value)) {
      for (const p of merged.positions.keys()) if (p === k || p.startsWith(`${k}.`) || p.startsWith(`${k}[`)) merged.positions.delete(p);
    }
    Object.assign(merged.value, l.value);
    for (const [k, p] of l.positions) merged.positions.set(k, p);
    for (const u of l.usedVariables ?? []) merged.usedVariables!.add(u);
  }
  const loaded = loadParsed(merged, src.file ?? '<options>');
  // Only a file can be re-read (reload); text and object options have no file behind them.
  if (src.file === undefined) delete loaded.opts.configFile;
  return { ...loaded, keys: merged.value };
}
