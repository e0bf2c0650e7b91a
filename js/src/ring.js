// A fixed-capacity ring of numbers (x, y pairs) kept in typed arrays: no allocation per point.

export class Ring {
  /** @param {number} capacity */
  constructor(capacity) {
    this.capacity = Math.max(1, Math.floor(capacity));
    this.xs = new Float64Array(this.capacity);
    this.ys = new Float64Array(this.capacity);
    this.start = 0;
    this.length = 0;
    /** total points ever pushed */
    this.total = 0;
  }

  /** @param {number} x @param {number} y */
  push(x, y) {
    const end = (this.start + this.length) % this.capacity;
    this.xs[end] = x;
    this.ys[end] = y;
    if (this.length < this.capacity) this.length += 1;
    else this.start = (this.start + 1) % this.capacity;
    this.total += 1;
  }

  /** The i-th oldest point's x. @param {number} i */
  x(i) {
    return this.xs[(this.start + i) % this.capacity];
  }

  /** @param {number} i */
  y(i) {
    return this.ys[(this.start + i) % this.capacity];
  }

  /** @returns {[number, number] | undefined} */
  last() {
    if (this.length === 0) return undefined;
    return [this.x(this.length - 1), this.y(this.length - 1)];
  }

  /** Change capacity, keeping the newest points. @param {number} capacity */
  resize(capacity) {
    const next = new Ring(capacity);
    const keep = Math.min(this.length, next.capacity);
    for (let i = this.length - keep; i < this.length; i++) next.push(this.x(i), this.y(i));
    next.total = this.total;
    Object.assign(this, next);
  }

  /** @returns {Array<[number, number]>} oldest first */
  toArray() {
    const out = [];
    for (let i = 0; i < this.length; i++) out.push(/** @type {[number, number]} */ ([this.x(i), this.y(i)]));
    return out;
  }

  /** min/max of y over the ring (NaN skipped); `undefined` if empty. */
  yExtent() {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < this.length; i++) {
      const v = this.y(i);
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    return lo <= hi ? [lo, hi] : undefined;
  }

  clear() {
    this.start = 0;
    this.length = 0;
  }
}
