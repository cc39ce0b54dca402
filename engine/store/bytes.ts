/** A Buffer over the same memory as `data`, for binding a BLOB without a copy. */
export function toBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** Headers as stored: a JSON object of strings. */
export type Headers = Readonly<Record<string, string>>;
