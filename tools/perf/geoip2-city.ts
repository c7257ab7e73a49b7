/**
 * A GeoIP2-City-layout copy of a flat-country MMDB (the project's geoip/ database), for
 * servers that read only MaxMind's schema (gdnsd's geoip plugin reads `country.iso_code`,
 * `continent.code` and, in its distance mode, `location`): the same search tree, so every
 * address maps to the same country as in meridian, with each record rewritten as
 * `{ continent: { code }, country: { iso_code }, location: { latitude, longitude } }`, the
 * continent and the coordinates taken from the tables meridian itself uses for a flat-country
 * database (src/geoip/continents.ts, the country centroids).
 */
import fs from 'node:fs';
import { Reader, type Response } from 'maxmind';
import { continentOfCountry } from '../../src/geoip/continents.js';
import { COUNTRY_CENTROIDS } from '../../src/geoip/country-centroids.js';

const METADATA_MARKER = Buffer.from('\xab\xcd\xefMaxMind.com', 'latin1');

// ---------------------------------------------------------------- the data section's encoding

function control(type: number, size: number): Buffer {
  // Sizes of 29..284 take one extra byte (MaxMind DB spec, "Data Field Format"); ours are shorter.
  if (size >= 285) throw new Error(`mmdb field of ${size} bytes: not supported here`);
  const [low, extra] = size < 29 ? [size, []] : [29, [size - 29]];
  return Buffer.from(type <= 7 ? [(type << 5) | low, ...extra] : [low, type - 7, ...extra]);
}

function uint(type: number, value: number | bigint): Buffer {
  const bytes: number[] = [];
  for (let v = BigInt(value); v > 0n; v >>= 8n) bytes.unshift(Number(v & 0xffn));
  return Buffer.concat([control(type, bytes.length), Buffer.from(bytes)]);
}

type Value = string | number | bigint | readonly string[] | { readonly [key: string]: Value } | { readonly u16: number } | { readonly u32: number };

function encode(v: Value): Buffer {
  if (typeof v === 'string') {
    const b = Buffer.from(v, 'utf8');
    return Buffer.concat([control(2, b.length), b]);
  }
  if (typeof v === 'number') {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(v);
    return Buffer.concat([control(3, 8), b]);
  }
  if (typeof v === 'bigint') return uint(9, v);
  if (Array.isArray(v)) return Buffer.concat([control(11, v.length), ...v.map((s: string) => encode(s))]);
  const o = v as Record<string, Value>;
  if ('u16' in o && typeof o.u16 === 'number') return uint(5, o.u16);
  if ('u32' in o && typeof o.u32 === 'number') return uint(6, o.u32);
  const keys = Object.keys(o);
  return Buffer.concat([control(7, keys.length), ...keys.flatMap((k) => [encode(k), encode(o[k]!)])]);
}

function cityRecord(country: string | undefined): Value {
  if (country === undefined) return {};
  const continent = continentOfCountry(country);
  const at = COUNTRY_CENTROIDS.get(country.toUpperCase());
  return {
    ...(continent === null ? {} : { continent: { code: continent } }),
    country: { iso_code: country.toUpperCase() },
    ...(at === undefined ? {} : { location: { latitude: at[0], longitude: at[1] } }),
  };
}

// ---------------------------------------------------------------- the tree

/**
 * Writes `out`; returns how many distinct records (countries) it holds. Only record sizes of
 * 24 and 32 bits are handled (the project's file has 24).
 */
export function writeGeoip2City(flatPath: string, out: string): number {
  const db = fs.readFileSync(flatPath);
  const reader = new Reader<Response>(db);
  const { nodeCount, recordSize, ipVersion } = reader.metadata;
  if (recordSize !== 24 && recordSize !== 32) throw new Error(`${flatPath}: record size ${recordSize} not supported`);
  const nodeBytes = recordSize / 4;
  const half = recordSize / 8;
  const tree = Buffer.from(db.subarray(0, nodeCount * nodeBytes));
  const read = (node: number, right: number): number => tree.readUIntBE(node * nodeBytes + right * half, half);
  const write = (node: number, right: number, v: number): void => {
    tree.writeUIntBE(v, node * nodeBytes + right * half, half);
  };

  // Every data pointer of the tree, with the record of the network that reaches it (looked up
  // through the reader at the network's first address, so the old data section's encoding
  // stays the reader's business). A depth-first walk keeps the path's bits in `addr`.
  const records = new Map<number, Buffer>();
  const data: Buffer[] = [];
  let dataSize = 0;
  const addr = new Uint8Array(ipVersion === 6 ? 16 : 4);
  const ipOf = (): string => (addr.length === 4 ? addr.join('.') : Array.from({ length: 8 }, (_, i) => ((addr[2 * i]! << 8) | addr[2 * i + 1]!).toString(16)).join(':'));
  const newPointer = (oldValue: number): number => {
    let rec = records.get(oldValue);
    if (rec === undefined) {
      const encoded = encode(cityRecord((reader.get(ipOf()) as { country_code?: string } | null)?.country_code));
      rec = Buffer.alloc(4);
      rec.writeUInt32BE(nodeCount + 16 + dataSize);
      data.push(encoded);
      dataSize += encoded.length;
      records.set(oldValue, rec);
    }
    return rec.readUInt32BE();
  };
  const seen = new Uint8Array(nodeCount);
  const walk = (node: number, depth: number): void => {
    if (seen[node]) return; // an alias (IPv4 space reached twice): already rewritten
    seen[node] = 1;
    for (const right of [0, 1]) {
      const byte = depth >> 3;
      const bit = 0x80 >> (depth & 7);
      if (right) addr[byte]! |= bit;
      else addr[byte]! &= ~bit;
      const v = read(node, right);
      if (v < nodeCount) walk(v, depth + 1);
      else if (v > nodeCount) write(node, right, newPointer(v));
      // v === nodeCount: no data, stays as it is. Bits past `depth` in `addr` are left from
      // earlier paths: any address under the prefix reaches the same record.
    }
  };
  walk(0, 0);
  if (nodeCount + 16 + dataSize >= 2 ** recordSize) throw new Error('data section too large for the record size');

  const metadata = encode({
    binary_format_major_version: { u16: 2 },
    binary_format_minor_version: { u16: 0 },
    build_epoch: BigInt(Math.floor(reader.metadata.buildEpoch.getTime() / 1000)),
    database_type: 'GeoIP2-City',
    description: { en: `GeoIP2-City layout of ${flatPath.split('/').pop()} for benchmarks` },
    ip_version: { u16: ipVersion },
    languages: ['en'],
    node_count: { u32: nodeCount },
    record_size: { u16: recordSize },
  });
  fs.writeFileSync(out, Buffer.concat([tree, Buffer.alloc(16), ...data, METADATA_MARKER, metadata]));
  return records.size;
}
