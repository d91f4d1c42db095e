/**
 * Binary detection and the placeholder scheme of BINARY_EVENT / BINARY_ACK
 * packets: every binary value is replaced by `{"_placeholder":true,"num":N}`
 * and sent as the N-th attachment frame.
 */

/** The binary kinds the encoder sends as attachments. */
export type BinaryLike = Buffer | ArrayBuffer | ArrayBufferView;

/** True for a Buffer, an ArrayBuffer, any typed array or a DataView. */
export function isBinary(value: unknown): value is BinaryLike {
  return ArrayBuffer.isView(value) || value instanceof ArrayBuffer;
}

/** A Buffer sharing memory with the given binary value (no copy). */
export function toBuffer(value: BinaryLike): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof ArrayBuffer) return Buffer.from(value);
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

type Obj = Record<string, unknown>;
type WithToJSON = { toJSON: (key: string) => unknown };

const hasOwn = Object.prototype.hasOwnProperty;

function toJSONOf(value: object): WithToJSON["toJSON"] | undefined {
  const fn = (value as Partial<WithToJSON>).toJSON;
  return typeof fn === "function" ? fn : undefined;
}

/**
 * True when a binary value appears anywhere in `value`: nested in arrays and
 * plain objects, or in what an object's `toJSON()` returns (called as
 * JSON.stringify would call it, once per object; Dates are not traversed).
 */
export function hasBinary(value: unknown): boolean {
  return typeof value === "object" && value !== null && walk(value, "", false);
}

function walk(value: object, key: string | number, afterToJSON: boolean): boolean {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (typeof item === "object" && item !== null && walk(item, i, false)) return true;
    }
    return false;
  }
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return true;
  if (!afterToJSON) {
    const toJSON = toJSONOf(value);
    if (toJSON !== undefined) {
      if (value instanceof Date) return false;
      const replaced: unknown = toJSON.call(value, String(key));
      return typeof replaced === "object" && replaced !== null && walk(replaced, key, true);
    }
  }
  for (const k in value) {
    if (!hasOwn.call(value, k)) continue;
    const item = (value as Obj)[k];
    if (typeof item === "object" && item !== null && walk(item, k, false)) return true;
  }
  return false;
}

/** Sets an own data property, even for the key "__proto__" (never the prototype). */
export function setOwn(target: Obj, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(target, key, {
      value,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  } else {
    target[key] = value;
  }
}

/**
 * Copies `value` with every binary value replaced by a placeholder; the
 * binaries are appended to `buffers` (as Buffers) in placeholder order.
 */
export function deconstruct(
  value: unknown,
  buffers: Buffer[],
  key: string | number = "",
  afterToJSON = false,
): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (isBinary(value)) {
    const placeholder = { _placeholder: true, num: buffers.length };
    buffers.push(toBuffer(value));
    return placeholder;
  }
  if (Array.isArray(value)) {
    const copy = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) copy[i] = deconstruct(value[i], buffers, i);
    return copy;
  }
  if (value instanceof Date) return value;
  if (!afterToJSON) {
    const toJSON = toJSONOf(value);
    if (toJSON !== undefined)
      return deconstruct(toJSON.call(value, String(key)), buffers, key, true);
  }
  const copy: Obj = {};
  for (const k in value) {
    if (!hasOwn.call(value, k)) continue;
    const item = (value as Obj)[k];
    // JSON.stringify applies toJSON once per value: keep an own toJSON method of a
    // toJSON() result from being applied a second time to the copy.
    if (afterToJSON && k === "toJSON" && typeof item === "function") continue;
    setOwn(copy, k, deconstruct(item, buffers, k));
  }
  return copy;
}
