/**
 * A bounded LRU map whose entries also expire at an absolute time. Every cache in Gatehouse
 * (verified tokens, sessions, assertions, introspection) is one of these, so memory is bounded
 * by count and nothing outlives the credential it was derived from.
 *
 * A JS Map keeps insertion order: a hit re-inserts the entry, so the first key is the
 * least recently used one and eviction is O(1). A hit on an entry (re)inserted within the last
 * max/2 insertions is not moved again – it cannot be the first key while the map is full, so
 * it is as safe from eviction as if it had been – which spares a hot entry a delete and a set
 * on every hit.
 */
export class LruCache<V> {
  readonly #max: number;
  readonly #map = new Map<string, { value: V; expiresAt: number; seq: number }>();
  /** insertions so far; an entry's `seq` is this count when it was last (re)inserted */
  #seq = 0;
  hits = 0;
  misses = 0;

  /** `max` = 0 disables the cache (every get misses, set stores nothing). */
  constructor(max: number) {
    if (!Number.isInteger(max) || max < 0) {
      throw Object.assign(new TypeError(`"max" must be a non-negative integer, got ${max}`), {
        code: 'ERR_INVALID_ARG_VALUE',
      });
    }
    this.#max = max;
  }

  get size(): number {
    return this.#map.size;
  }

  /** The value, if present and not expired at `now` (epoch ms). */
  get(key: string, now = Date.now()): V | undefined {
    const entry = this.#map.get(key);
    if (entry === undefined) {
      this.misses++;
      return undefined;
    }
    if (entry.expiresAt <= now) {
      this.#map.delete(key);
      this.misses++;
      return undefined;
    }
    if (this.#seq - entry.seq >= this.#max >> 1) {
      this.#map.delete(key);
      entry.seq = this.#seq++;
      this.#map.set(key, entry);
    }
    this.hits++;
    return entry.value;
  }

  /** Store `value` until `expiresAt` (epoch ms); evicts the least recently used entry when full. */
  set(key: string, value: V, expiresAt: number): void {
    if (this.#max === 0) return;
    this.#map.delete(key);
    if (this.#map.size >= this.#max) {
      const oldest = this.#map.keys().next();
      if (!oldest.done) this.#map.delete(oldest.value);
    }
    this.#map.set(key, { value, expiresAt, seq: this.#seq++ });
  }

  delete(key: string): boolean {
    return this.#map.delete(key);
  }

  clear(): void {
    this.#map.clear();
  }
}
