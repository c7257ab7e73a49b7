/**
 * Types whose RDATA holds domain names: NS, CNAME, PTR, DNAME, MX, KX, RP, SOA, SRV, NAPTR.
 * Names are absolute-ised against the origin and stored uncompressed with their case.
 */
import { nameText, quoteBytes, type RdataCodec } from './fields.js';

/** A single name: NS, CNAME, PTR (RFC 1035 §3.3), DNAME (RFC 6672 §2.1). */
export function singleName(field: string): RdataCodec {
  return {
    encode(c, w) {
      w.name(c.name(field));
    },
    decode(r) {
      return nameText(r.name());
    },
  };
}

/** A preference then a name: MX (RFC 1035 §3.3.9), KX (RFC 2230). */
export function preferenceName(field: string): RdataCodec {
  return {
    encode(c, w) {
      w.u16(c.u16('preference'));
      w.name(c.name(field));
    },
    decode(r) {
      return `${r.u16()} ${nameText(r.name())}`;
    },
  };
}

/** RP (RFC 1183 §2.2): mailbox and TXT owner. */
export const RP: RdataCodec = {
  encode(c, w) {
    w.name(c.name('mailbox'));
    w.name(c.name('TXT name'));
  },
  decode(r) {
    return `${nameText(r.name())} ${nameText(r.name())}`;
  },
};

const SOA_TIMERS = ['refresh', 'retry', 'expire', 'minimum'] as const;

/** SOA (RFC 1035 §3.3.13): the four timers accept BIND units; the serial is a plain u32. */
export const SOA: RdataCodec = {
  encode(c, w) {
    w.name(c.name('mname'));
    w.name(c.name('rname'));
    w.u32(c.u32('serial'));
    for (const field of SOA_TIMERS) w.u32(c.timer(field));
  },
  decode(r) {
    const parts = [nameText(r.name()), nameText(r.name())];
    for (let i = 0; i < 5; i++) parts.push(String(r.u32()));
    return parts.join(' ');
  },
};

/** SRV (RFC 2782): priority weight port target. */
export const SRV: RdataCodec = {
  encode(c, w) {
    w.u16(c.u16('priority'));
    w.u16(c.u16('weight'));
    w.u16(c.u16('port'));
    w.name(c.name('target'));
  },
  decode(r) {
    return `${r.u16()} ${r.u16()} ${r.u16()} ${nameText(r.name())}`;
  },
};

/** NAPTR (RFC 3403 §4.1): order preference "flags" "services" "regexp" replacement. */
export const NAPTR: RdataCodec = {
  encode(c, w) {
    w.u16(c.u16('order'));
    w.u16(c.u16('preference'));
    w.charString(c.charString('flags'));
    w.charString(c.charString('services'));
    w.charString(c.charString('regexp'));
    w.name(c.name('replacement'));
  },
  decode(r) {
    const order = r.u16();
    const pref = r.u16();
    const strings = [quoteBytes(r.charString()), quoteBytes(r.charString()), quoteBytes(r.charString())];
    return `${order} ${pref} ${strings.join(' ')} ${nameText(r.name())}`;
  },
};
