// A JetStream domain (`jetstream { domain: X }`): nats-server adds, in every account, the subject
// mappings of jetstream_api.go generateJSMappingTable, so `$JS.X.API.<...>` reaches the API as
// `$JS.API.<...>` and `$JS.X.API.$KV.>` / `$JS.X.API.$OBJ.>` reach the KV and object-store streams
// (`$KV.>`, `$OBJ.>`). The worker subscribes `$JS.X.API.>` and maps what arrives the same way.

/** The `<srcMappingSuffix>` → destination table, for `$JS.<domain>.API.<suffix>`. */
const API_TOKENS = new Set(['STREAM', 'CONSUMER', 'DIRECT', 'META', 'SERVER', 'ACCOUNT']);

export class JsDomain {
  readonly name: string;
  /** `$JS.<domain>.API.` */
  readonly prefix: string;
  /** `$JS.<domain>.API.>` — what the worker subscribes. */
  readonly subscription: string;

  constructor(name: string) {
    this.name = name;
    this.prefix = `$JS.${name}.API.`;
    this.subscription = `$JS.${name}.API.>`;
  }

  /** The subject a `$JS.<domain>.API.` subject maps to, or null when no mapping covers it. */
  map(subject: string): string | null {
    if (!subject.startsWith(this.prefix)) return null;
    const rest = subject.slice(this.prefix.length);
    if (rest === 'INFO') return '$JS.API.INFO';
    if (rest.startsWith('$KV.') || rest.startsWith('$OBJ.')) return rest.length > rest.indexOf('.') + 1 ? rest : null;
    const dot = rest.indexOf('.');
    if (dot <= 0 || dot === rest.length - 1) return null;
    return API_TOKENS.has(rest.slice(0, dot)) ? `$JS.API.${rest}` : null;
  }
}
