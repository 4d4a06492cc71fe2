// Who a client certificate names, for TLS `verify_and_map` (nats-server auth.go
// checkClientTLSCertSubject): SAN e-mail addresses, DNS names and URIs first, then the subject as a
// distinguished name (internal/ldap's FromRawCertSubject and ParseDN, compared in order or as a set
// of RDNs), then the subject as Go's pkix RDNSequence.String() prints it (with the domain components
// appended, then without). Read straight from the DER: the strings Node offers lose the order and
// the multi-valued RDNs that the comparisons depend on.

/** One attribute of a DN: `CN=alice`. Types compare case-insensitively, values exactly (ldap.go Equal). */
export interface DnAttr {
  type: string;
  value: string;
}
/** A distinguished name in RFC 4514 order (most specific first), each RDN a set of attributes. */
export type Dn = DnAttr[][];

export interface CertIdentity {
  emails: string[];
  dnsNames: string[];
  uris: string[];
  /** The subject as internal/ldap's FromRawCertSubject builds it; null when it has an attribute type or value it does not know. */
  dn: Dn | null;
  /** pkix Name.ToRDNSequence().String(): the well-known attributes only, in Go's fixed order. */
  rdnString: string;
  /** `DC=a,DC=b` from the subject, in certificate order ('' when none). */
  dcs: string;
  /** The subject has any attribute at all (Go: len(cert.Subject.String()) > 0). */
  hasSubject: boolean;
}

// ---- a minimal DER reader ----------------------------------------------------------------------

interface Tlv {
  tag: number;
  start: number; // content start
  end: number; // content end
}

function readTlv(b: Buffer, pos: number, limit: number): Tlv {
  if (pos + 2 > limit) throw new Error('truncated DER');
  const tag = b[pos]!;
  let len = b[pos + 1]!;
  let p = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || p + n > limit) throw new Error('bad DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[p + i]!;
    p += n;
  }
  if (p + len > limit) throw new Error('truncated DER');
  return { tag, start: p, end: p + len };
}

function children(b: Buffer, t: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let p = t.start;
  while (p < t.end) {
    const c = readTlv(b, p, t.end);
    out.push(c);
    p = c.end;
  }
  return out;
}

function oid(b: Buffer, t: Tlv): string {
  const parts: number[] = [];
  let v = 0;
  for (let i = t.start; i < t.end; i++) {
    v = v * 128 + (b[i]! & 0x7f);
    if ((b[i]! & 0x80) === 0) {
      if (parts.length === 0) parts.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}

/** The string ASN.1 types Go's encoding/asn1 decodes into a string; null for anything else. */
function asn1String(b: Buffer, t: Tlv): string | null {
  switch (t.tag) {
    case 0x0c: // UTF8String
      return b.toString('utf8', t.start, t.end);
    case 0x13: // PrintableString
    case 0x16: // IA5String
    case 0x12: // NumericString
    case 0x14: // T61String (Go reads it byte for byte)
      return b.toString('latin1', t.start, t.end);
    case 0x1e: {
      // BMPString: UTF-16BE
      const s = Buffer.from(b.subarray(t.start, t.end));
      return s.swap16().toString('utf16le');
    }
    default:
      return null;
  }
}

// ---- the certificate's names ---------------------------------------------------------------------

const OID_SAN = '2.5.29.17';
const OID_DC = '0.9.2342.19200300.100.1.25';
/** internal/ldap attributeTypeNames: the only types FromRawCertSubject accepts. */
const LDAP_TYPES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.5': 'SERIALNUMBER',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'STREET',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.17': 'POSTALCODE',
  [OID_DC]: 'DC',
};

interface RawAttr {
  oid: string;
  value: string | null;
}

/** Reads a DER certificate's subject (as RDNs of attributes, in certificate order) and its SANs. */
function readCert(der: Buffer): { subject: RawAttr[][]; emails: string[]; dnsNames: string[]; uris: string[] } {
  const cert = readTlv(der, 0, der.length);
  const tbs = children(der, cert)[0]!;
  const f = children(der, tbs);
  let i = f[0]!.tag === 0xa0 ? 1 : 0; // [0] version
  i += 4; // serialNumber, signature, issuer, validity
  const subjectTlv = f[i]!;
  const subject = children(der, subjectTlv).map((set) =>
    children(der, set).map((atv) => {
      const [t, v] = children(der, atv);
      return { oid: oid(der, t!), value: v === undefined ? null : asn1String(der, v) };
    }),
  );
  const emails: string[] = [];
  const dnsNames: string[] = [];
  const uris: string[] = [];
  for (const x of f.slice(i + 1)) {
    if (x.tag !== 0xa3) continue; // [3] extensions
    for (const ext of children(der, children(der, x)[0]!)) {
      const parts = children(der, ext);
      if (oid(der, parts[0]!) !== OID_SAN) continue;
      const value = parts[parts.length - 1]!; // OCTET STRING holding GeneralNames
      const names = readTlv(der, value.start, value.end);
      for (const g of children(der, names)) {
        const s = der.toString('latin1', g.start, g.end);
        if (g.tag === 0x81) emails.push(s);
        else if (g.tag === 0x82) dnsNames.push(s);
        else if (g.tag === 0x86) uris.push(s);
      }
    }
  }
  return { subject, emails, dnsNames, uris };
}

/** Go's RDNSequence.String() escaping of one value (RFC 2253-ish). */
function escapeValue(v: string): string {
  let out = '';
  const chars = [...v];
  chars.forEach((c, k) => {
    let esc = false;
    if (c === ',' || c === '+' || c === '"' || c === '\\' || c === '<' || c === '>' || c === ';') esc = true;
    else if (c === ' ') esc = k === 0 || k === chars.length - 1;
    else if (c === '#') esc = k === 0;
    out += esc ? `\\${c}` : c;
  });
  return out;
}

/**
 * pkix.Name: FillFromRDNSequence keeps the well-known attributes (CN and SERIALNUMBER: the last one
 * wins), ToRDNSequence puts them back in a fixed order, String() prints that sequence reversed.
 */
function goRdnString(subject: RawAttr[][]): string {
  const multi: Record<string, string[]> = { C: [], ST: [], L: [], STREET: [], POSTALCODE: [], O: [], OU: [] };
  let cn = '';
  let serial = '';
  for (const rdn of subject) {
    for (const a of rdn) {
      if (a.value === null) continue;
      const name = LDAP_TYPES[a.oid];
      if (name === undefined || name === 'DC') continue;
      if (name === 'CN') cn = a.value;
      else if (name === 'SERIALNUMBER') serial = a.value;
      else multi[name]!.push(a.value);
    }
  }
  const seq: [string, string[]][] = [
    ['C', multi['C']!],
    ['ST', multi['ST']!],
    ['L', multi['L']!],
    ['STREET', multi['STREET']!],
    ['POSTALCODE', multi['POSTALCODE']!],
    ['O', multi['O']!],
    ['OU', multi['OU']!],
    ['CN', cn === '' ? [] : [cn]],
    ['SERIALNUMBER', serial === '' ? [] : [serial]],
  ];
  return seq
    .filter(([, vs]) => vs.length > 0)
    .reverse()
    .map(([t, vs]) => vs.map((v) => `${t}=${escapeValue(v)}`).join('+'))
    .join(',');
}

export function certIdentity(der: Buffer): CertIdentity {
  const { subject, emails, dnsNames, uris } = readCert(der);
  // FromRawCertSubject: RDNs and their attributes reversed; any unknown type or non-string value fails.
  let dn: Dn | null = [];
  for (let i = subject.length - 1; i >= 0 && dn !== null; i--) {
    const rdn = subject[i]!;
    if (rdn.length === 0) continue;
    const attrs: DnAttr[] = [];
    for (let j = rdn.length - 1; j >= 0; j--) {
      const a = rdn[j]!;
      const type = LDAP_TYPES[a.oid];
      if (type === undefined || a.value === null) {
        dn = null;
        break;
      }
      attrs.push({ type, value: a.value });
    }
    dn?.push(attrs);
  }
  const dcs = subject
    .flat()
    .filter((a) => a.oid === OID_DC && a.value !== null)
    .map((a) => `DC=${a.value}`)
    .join(',');
  return { emails, dnsNames, uris, dn, rdnString: goRdnString(subject), dcs, hasSubject: subject.some((r) => r.length > 0) };
}

// ---- DN strings as configured user names (internal/ldap ParseDN) --------------------------------

/** RFC 4514 string to a DN, as ldap.ParseDN; null where it returns an error. */
export function parseDn(str: string): Dn | null {
  const dn: Dn = [];
  let rdn: DnAttr[] = [];
  let type = '';
  let buf: number[] = [];
  let escaping = false;
  let trailing = 0;
  const b = Buffer.from(str, 'utf8');
  const take = (): string => {
    const s = Buffer.from(buf.slice(0, buf.length - trailing)).toString('utf8');
    buf = [];
    trailing = 0;
    return s;
  };
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (escaping) {
      trailing = 0;
      escaping = false;
      if (' "#+,;<=>\\'.includes(String.fromCharCode(c))) {
        buf.push(c);
        continue;
      }
      if (i + 1 >= b.length) return null;
      const hex = b.toString('latin1', i, i + 2);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) return null;
      buf.push(parseInt(hex, 16));
      i++;
    } else if (c === 0x5c) {
      trailing = 0;
      escaping = true;
    } else if (c === 0x3d) {
      type = take();
      if (i + 1 < b.length && b[i + 1] === 0x23) return null; // '#': BER values unsupported
    } else if (c === 0x2c || c === 0x2b) {
      if (type.length === 0) return null;
      rdn.push({ type, value: take() });
      type = '';
      if (c === 0x2c) {
        dn.push(rdn);
        rdn = [];
      }
    } else if (c === 0x20 && buf.length === 0) {
      continue;
    } else {
      trailing = c === 0x20 ? trailing + 1 : 0;
      buf.push(c);
    }
  }
  if (buf.length > 0) {
    if (type.length === 0) return null;
    rdn.push({ type, value: take() });
    dn.push(rdn);
  }
  return dn;
}

function attrEqual(a: DnAttr, b: DnAttr): boolean {
  return a.type.toLowerCase() === b.type.toLowerCase() && a.value === b.value;
}

function hasAll(r: DnAttr[], attrs: DnAttr[]): boolean {
  return attrs.every((a) => r.some((m) => attrEqual(m, a)));
}

function rdnEqual(a: DnAttr[], b: DnAttr[]): boolean {
  return a.length === b.length && hasAll(a, b) && hasAll(b, a);
}

/** ldap DN.Equal: same RDNs in the same order. */
export function dnEqual(a: Dn, b: Dn): boolean {
  return a.length === b.length && a.every((r, i) => rdnEqual(r, b[i]!));
}

/** ldap DN.RDNsMatch: the same RDNs in any order. */
export function dnRdnsMatch(a: Dn, b: Dn): boolean {
  return a.length === b.length && a.every((r) => b.some((o) => rdnEqual(r, o)));
}
