// Request-body helpers shared by the API modules (nats-server's isEmptyRequest and the json.Unmarshal
// failure → JSInvalidJSONErr pattern of jetstream_api.go).

/** nats-server's isEmptyRequest: no bytes, or a JSON object with no keys. */
export function isEmptyRequest(data: Buffer): boolean {
  if (data.length === 0) return true;
  const v = parseJson(data);
  return v !== undefined && v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0;
}

/** The parsed body, or undefined when it is not JSON. */
export function parseJson(data: Buffer): unknown {
  try {
    return JSON.parse(data.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** A JSON object body as Go would unmarshal it into a struct, or null (→ invalid JSON). */
export function parseObject(data: Buffer): Record<string, unknown> | null {
  const v = parseJson(data);
  if (v === null) return {}; // `null` unmarshals into a struct as a no-op
  if (v === undefined || typeof v !== 'object' || Array.isArray(v)) return null;
  return v as Record<string, unknown>;
}

/** A non-negative integer field (Go uint64 / int), 0 when absent; NaN when of the wrong type. */
export function uintField(o: Record<string, unknown>, k: string): number {
  const v = o[k];
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) return NaN;
  return v;
}

/** A string field, '' when absent; null when of the wrong type. */
export function strField(o: Record<string, unknown>, k: string): string | null {
  const v = o[k];
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : null;
}
