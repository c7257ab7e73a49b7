/**
 * The RRsets of one node by type: a Map's interface over two inline slots and two parallel
 * arrays. Nodes have one or a few RRsets, and a Map per node costs about 180 bytes, most of
 * a small record's share.
 */
export class TypeMap<V> implements ReadonlyMap<number, V> {
  // The first two RRsets inline (most nodes have one, or two: A and AAAA), so such a node
  // costs no array, which a reload would allocate and the GC trace once per node; any
  // others in arrays replaced, not pushed to, so each is exactly as long as it needs to be
  // (a pushed-to array keeps room for 17).
  private firstType = -1;
  private first: V | undefined = undefined;
  private secondType = -1;
  private second: V | undefined = undefined;
  private types: readonly number[] | null = null;
  private sets: readonly V[] | null = null;
  get size(): number {
    return (this.firstType < 0 ? 0 : 1) + (this.secondType < 0 ? 0 : 1) + (this.types?.length ?? 0);
  }
  get(type: number): V | undefined {
    if (type === this.firstType) return this.first;
    if (type === this.secondType) return this.second;
    if (this.types === null) return undefined;
    const i = this.types.indexOf(type);
    return i < 0 ? undefined : this.sets![i];
  }
  has(type: number): boolean {
    return type === this.firstType || type === this.secondType || (this.types !== null && this.types.includes(type));
  }
  set(type: number, value: V): this {
    if (this.firstType < 0 || type === this.firstType) {
      this.firstType = type;
      this.first = value;
      return this;
    }
    if (this.secondType < 0 || type === this.secondType) {
      this.secondType = type;
      this.second = value;
      return this;
    }
    const i = this.types === null ? -1 : this.types.indexOf(type);
    if (i >= 0) this.sets = this.sets!.map((v, j) => (j === i ? value : v));
    else {
      this.types = (this.types ?? []).concat(type);
      this.sets = (this.sets ?? []).concat([value]);
    }
    return this;
  }
  *keys(): MapIterator<number> {
    for (const [k] of this.entries()) yield k;
  }
  *values(): MapIterator<V> {
    for (const [, v] of this.entries()) yield v;
  }
  *entries(): MapIterator<[number, V]> {
    if (this.firstType < 0) return;
    yield [this.firstType, this.first as V];
    if (this.secondType < 0) return;
    yield [this.secondType, this.second as V];
    if (this.types === null) return;
    for (let i = 0; i < this.types.length; i++) yield [this.types[i]!, this.sets![i]!];
  }
  [Symbol.iterator](): MapIterator<[number, V]> {
    return this.entries();
  }
  forEach(fn: (value: V, key: number, map: ReadonlyMap<number, V>) => void): void {
    for (const [k, v] of this.entries()) fn(v, k, this);
  }
}
