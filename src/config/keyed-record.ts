import { Type, type ObjectOptions, type TRecord, type TSchema, type TString } from '@sinclair/typebox';

/**
 * An object keyed by `key`. TypeBox writes a Record as patternProperties alone, which lets a
 * key that does not match through unchecked (no defaults filled, nothing validated: the
 * `_edge` crash of issue 14, and a balancer pool named `_x`). propertyNames names the bad key;
 * additionalProperties refuses any key the pattern misses (one with a newline, for the "any
 * string" records). Every schema with user-chosen keys uses this, never Type.Record.
 */
export function Keyed<V extends TSchema>(key: TString, value: V, options: ObjectOptions = {}): TRecord<TString, V> {
  return Type.Record(key, value, { ...options, propertyNames: key, additionalProperties: false });
}
