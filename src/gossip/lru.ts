/**
 * A true LRU set of bounded size: a hit refreshes recency, the least recently
 * seen key is evicted first. (The Python original's cache was FIFO, so a hot
 * duplicate could be evicted and delivered twice.) Map preserves insertion
 * order, so delete + set moves a key to the young end in O(1).
 */
export class LruSet {
  private readonly map = new Map<string, true>();

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.map.size;
  }

  /** True if present; refreshes recency. */
  has(key: string): boolean {
    if (!this.map.has(key)) return false;
    this.map.delete(key);
    this.map.set(key, true);
    return true;
  }

  /** Add (or refresh) a key, evicting the least recently used beyond capacity. */
  add(key: string): void {
    this.map.delete(key);
    this.map.set(key, true);
    while (this.map.size > this.capacity) {
      const oldest = this.map.keys().next();
      if (oldest.done === true) break;
      this.map.delete(oldest.value);
    }
  }
}
