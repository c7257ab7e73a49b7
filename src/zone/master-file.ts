/**
 * RFC 1035 §5 master-file parser: directives ($ORIGIN, $TTL per RFC 2308 §4, $INCLUDE),
 * owner/TTL/class inheritance, and RDATA via the per-type codec. It keeps going after a bad
 * record and reports every problem with its file and starting line, as named-checkzone does.
 */
import fs from 'node:fs';
import path from 'node:path';
import { classFromText, RRClass, RRType, typeFromText, typeToText } from '../dns/constants.js';
import { labelKey, nameToText, parseName, type Name } from '../dns/name.js';
import { encodeRdata, parseTtlText } from './rdata/index.js';
import type { FileProblem } from '../problems/types.js';
import type { ZoneRecord } from './record.js';
import { ProblemList } from '../problems/problem-list.js';
import { Tokenizer, type Entry, type Token } from './tokenizer.js';

export interface ParseOptions {
  /** Path used in messages and to resolve $INCLUDE relative paths. */
  file: string;
  /** Initial $ORIGIN (the zone apex). */
  origin: Name;
  /** Used if no $TTL and no SOA yet (default 3600). */
  defaultTtl?: number;
  /** Defaults to fs.readFileSync(path, 'utf8'); used for $INCLUDE. */
  readFile?: (path: string) => string;
  /** Default 8; guard against include loops. */
  maxIncludeDepth?: number;
}

export interface ParseResult {
  records: ZoneRecord[];
  /** At most MAX_PROBLEMS_PER_FILE, then one line counting the others. */
  problems: FileProblem[];
}

export function parseMasterFile(text: string, opts: ParseOptions): ParseResult {
  const parser = new MasterFileParser(opts);
  // A bad record's error becomes a file:line value and its stack trace is never shown, yet
  // capturing it was half the cost of a bad line (a zone gone bad can have 500,000 of them).
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    parser.parseFile(text, { file: opts.file, origin: opts.origin, owner: null, ownerUsable: true, depth: 0 });
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
  return { records: parser.records, problems: parser.problems.toArray() };
}

/** RFC 2181 §8: a TTL is an unsigned 31-bit value. */
const MAX_TTL = 0x7fffffff;

/** What is local to one file: $INCLUDE restores origin and owner when it returns (RFC 1035 §5.1). */
interface FileState {
  file: string;
  origin: Name;
  /** Owner for records that begin with blank space. */
  owner: Name | null;
  /** False after a bad owner: the records that inherit it are checked but not kept. */
  ownerUsable: boolean;
  /** Text and origin the owner was parsed from, to reuse it when the next line repeats it. */
  ownerText?: string | undefined;
  ownerOrigin?: Name | undefined;
  depth: number;
}

/** A record's fields after the owner. */
interface RecordBody {
  ttl: number | undefined;
  class: number;
  type: number;
  rdata: Buffer;
}

class RecordError extends Error {}

const DIRECTIVES = new Set(['$ORIGIN', '$TTL', '$INCLUDE', '$GENERATE']);
const NON_ASCII = /[^\x00-\x7f]/;

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Types that only exist in queries or as pseudo-records (RFC 6895 §3.1: 128-255 and OPT). */
function isMetaType(type: number): boolean {
  return type === 0 || type === RRType.OPT || (type >= 128 && type <= 255);
}

function toName(text: string, origin: Name): Name {
  // the file is read as UTF-8; a name must be ASCII (IDNs in punycode, RFC 5890)
  if (NON_ASCII.test(text)) throw new RecordError(`name "${text}" has a non-ASCII character; write it as punycode`);
  return parseName(text, origin);
}

function ttlValue(text: string, what: string): number {
  const v = parseTtlText(text);
  if (v === undefined) throw new RecordError(`${what} "${text}" is not a number of seconds or a duration like 1h30m`);
  if (v > MAX_TTL) throw new RecordError(`${what} ${text} is above ${MAX_TTL} (RFC 2181 §8)`);
  return v;
}

class MasterFileParser {
  readonly records: ZoneRecord[] = [];
  readonly problems: ProblemList;
  readonly #apex: Name;
  readonly #apexKeys: string[];
  readonly #defaultTtl: number;
  readonly #readFile: (path: string) => string;
  readonly #maxDepth: number;
  // TTL and class state carries across $INCLUDE, as in BIND
  #dollarTtl: number | undefined;
  #lastTtl: number | undefined;
  #soaTtl: number | undefined;
  #class: number = RRClass.IN;

  constructor(opts: ParseOptions) {
    this.problems = new ProblemList(opts.file);
    this.#apex = opts.origin;
    this.#apexKeys = opts.origin.map(labelKey);
    this.#defaultTtl = opts.defaultTtl ?? 3600;
    this.#readFile = opts.readFile ?? ((p) => fs.readFileSync(p, 'utf8'));
    this.#maxDepth = opts.maxIncludeDepth ?? 8;
  }

  parseFile(text: string, st: FileState): void {
    const lexer = new Tokenizer(text);
    for (let entry = lexer.next(); entry !== null; entry = lexer.next()) {
      try {
        if (entry.error !== undefined) throw new RecordError(entry.error);
        if (this.#isDirective(entry)) this.#directive(entry, st);
        else this.#record(entry, st);
      } catch (err) {
        this.#problem(st.file, entry.line, err);
      }
    }
  }

  #problem(file: string, line: number, err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    this.problems.add({ file, line, message, severity: 'error' });
  }

  #isDirective(entry: Entry): boolean {
    const first = entry.tokens[0]!;
    if (first.quoted || first.text.charCodeAt(0) !== 0x24) return false;
    // an indented "$TTL" is still meant as a directive; no type starts with "$"
    return !entry.blankOwner || DIRECTIVES.has(first.text.toUpperCase());
  }

  #directive(entry: Entry, st: FileState): void {
    const [first, ...args] = entry.tokens as [Token, ...Token[]];
    const name = first.text.toUpperCase();
    switch (name) {
      case '$ORIGIN':
        if (args.length !== 1) throw new RecordError(args.length === 0 ? '$ORIGIN needs a name' : '$ORIGIN takes one name');
        st.origin = toName(args[0]!.text, st.origin);
        return;
      case '$TTL':
        if (args.length !== 1) throw new RecordError(args.length === 0 ? '$TTL needs a value' : '$TTL takes one value');
        this.#dollarTtl = ttlValue(args[0]!.text, '$TTL');
        return;
      case '$INCLUDE':
        return this.#include(args, st);
      case '$GENERATE':
        throw new RecordError('$GENERATE is not supported; write the records out');
      default:
        throw new RecordError(`unknown directive "${first.text}"`);
    }
  }

  /** $INCLUDE file [origin] (RFC 1035 §5.1); the path is relative to the including file. */
  #include(args: Token[], st: FileState): void {
    if (args.length === 0) throw new RecordError('$INCLUDE needs a file name');
    if (args.length > 2) throw new RecordError('$INCLUDE takes a file name and an optional origin');
    if (st.depth + 1 > this.#maxDepth) {
      throw new RecordError(`$INCLUDE nested more than ${this.#maxDepth} deep (an include loop?)`);
    }
    const target = args[0]!.text;
    const file = path.isAbsolute(target) ? target : path.join(path.dirname(st.file), target);
    const origin = args[1] ? toName(args[1].text, st.origin) : st.origin;
    let text: string;
    try {
      text = this.#readFile(file);
    } catch (err) {
      throw new RecordError(`cannot read $INCLUDE file "${file}": ${(err as Error).message}`);
    }
    this.parseFile(text, { file, origin, owner: st.owner, ownerUsable: st.ownerUsable, depth: st.depth + 1 });
  }

  #record(entry: Entry, st: FileState): void {
    const tokens = entry.tokens;
    let start = 0;
    if (!entry.blankOwner) this.#setOwner(tokens[start++]!.text, st);
    else if (st.owner === null && st.ownerUsable) {
      throw new RecordError('the first record has no owner name (the line starts with blank space)');
    }
    const body = this.#body(tokens, start, st.origin);
    if (st.owner === null || !st.ownerUsable) return;
    const ttl = this.#resolveTtl(body);
    this.records.push({
      owner: st.owner,
      type: body.type,
      class: body.class,
      ttl,
      rdata: body.rdata,
      source: { file: st.file, line: entry.line },
    });
  }

  /**
   * Sets the owner before the rest of the record is checked, so blank-owner lines that follow
   * use it. The same owner text repeated on the next line reuses the parsed name, which saves
   * time and memory in large zones.
   */
  #setOwner(text: string, st: FileState): void {
    if (st.owner !== null && text === st.ownerText && st.origin === st.ownerOrigin) {
      if (!st.ownerUsable) throw this.#outside(st.owner);
      return;
    }
    st.owner = null;
    st.ownerUsable = false;
    st.ownerText = undefined;
    const owner = toName(text, st.origin);
    st.owner = owner;
    st.ownerText = text;
    st.ownerOrigin = st.origin;
    if (!this.#inZone(owner)) throw this.#outside(owner);
    st.ownerUsable = true;
  }

  #outside(owner: Name): RecordError {
    return new RecordError(`owner ${nameToText(owner)} is outside the zone ${nameToText(this.#apex)}`);
  }

  /** Owner at or below the apex. Relative names share the origin's label strings, so === mostly decides. */
  #inZone(owner: Name): boolean {
    const apex = this.#apex;
    const off = owner.length - apex.length;
    if (off < 0) return false;
    for (let i = 0; i < apex.length; i++) {
      const label = owner[off + i]!;
      if (label !== apex[i] && labelKey(label) !== this.#apexKeys[i]) return false;
    }
    return true;
  }

  /**
   * `[TTL] [class] type rdata` with TTL and class in either order (RFC 1035 §5.1). A token
   * starting with a digit is a TTL (no class or type mnemonic does); then class, then type.
   */
  #body(tokens: Token[], start: number, origin: Name): RecordBody {
    let i = start;
    let ttl: number | undefined;
    let klass: number | undefined;
    for (let k = 0; k < 2 && i < tokens.length; k++) {
      const t = tokens[i]!;
      if (t.quoted) break;
      if (ttl === undefined && isDigit(t.text.charCodeAt(0))) {
        ttl = ttlValue(t.text, 'TTL');
      } else if (klass === undefined && classFromText(t.text) !== undefined) {
        klass = this.#checkedClass(t.text);
      } else {
        break;
      }
      i++;
    }
    const typeToken = tokens[i];
    if (typeToken === undefined) throw new RecordError('missing type');
    const type = typeToken.quoted ? undefined : typeFromText(typeToken.text);
    if (type === undefined) throw new RecordError(`unknown type "${typeToken.text}"`);
    if (isMetaType(type)) throw new RecordError(`type ${typeToText(type)} is a query or meta type and cannot be in a zone`);
    const rdata = encodeRdata(type, tokens.slice(i + 1), origin);
    if (klass !== undefined) this.#class = klass;
    return { ttl, class: this.#class, type, rdata };
  }

  /** Only IN and CHAOS zones are served. */
  #checkedClass(text: string): number {
    const klass = classFromText(text)!;
    if (klass !== RRClass.IN && klass !== RRClass.CH) throw new RecordError(`class ${text} is not supported (only IN and CH)`);
    return klass;
  }

  /**
   * Explicit TTL, else $TTL (RFC 2308 §4), else the last explicit TTL (RFC 1035 §5.1), else the
   * SOA minimum once an SOA was read (BIND), else the configured default.
   */
  #resolveTtl(body: RecordBody): number {
    if (body.type === RRType.SOA && this.#soaTtl === undefined) {
      this.#soaTtl = Math.min(body.rdata.readUInt32BE(body.rdata.length - 4), MAX_TTL);
    }
    if (body.ttl !== undefined) {
      this.#lastTtl = body.ttl;
      return body.ttl;
    }
    return this.#dollarTtl ?? this.#lastTtl ?? this.#soaTtl ?? this.#defaultTtl;
  }
}
