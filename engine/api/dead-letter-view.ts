import type { DeadLetter, DeadLetterSummary } from '../store/index.js';
import { isoTime } from './views.js';

/** A dead letter in a list: no body, only its size and a short preview, so a page stays small whatever was parked. */
export interface DeadLetterSummaryDocument {
  readonly id: string;
  readonly subject: string;
  readonly reason: string;
  readonly receivedAt: string;
  readonly deliveryCount: number;
  readonly redrivenAt: string | null;
  /** The name of the token that redrove it, when it was. */
  readonly redrivenBy: string | null;
  readonly headers: Readonly<Record<string, string>>;
  /** Bytes of the message; `GET /v1/dlq/{id}` has them. */
  readonly size: number;
  /** The message's first characters when they are UTF-8 text, else null. */
  readonly preview: string | null;
}

/** A dead letter as the API shows it: the raw bytes in base64, and as text when they are UTF-8. */
export interface DeadLetterDocument extends Omit<DeadLetterSummaryDocument, 'size' | 'preview'> {
  /** The message exactly as received, base64. */
  readonly data: string;
  /** The message as UTF-8 text, or null when its bytes are not valid UTF-8. */
  readonly text: string | null;
}

/** Characters of a body a list shows. */
export const PREVIEW_CHARS = 200;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function asText(data: Uint8Array): string | null {
  try {
    return utf8.decode(data);
  } catch {
    return null;
  }
}

/** Pure: the first characters of a body's first bytes, when they are UTF-8 (a character cut at the end is dropped). */
export function previewOf(head: Uint8Array, size: number): string | null {
  for (let cut = 0; cut <= (head.byteLength < size ? 3 : 0) && cut <= head.byteLength; cut++) {
    const text = asText(head.subarray(0, head.byteLength - cut));
    if (text !== null) return text.length > PREVIEW_CHARS ? text.slice(0, PREVIEW_CHARS) : text;
  }
  return null;
}

/** Pure: the list document of a dead letter. */
export function deadLetterSummaryDocument(l: DeadLetterSummary): DeadLetterSummaryDocument {
  return {
    id: l.id, subject: l.subject, reason: l.reason, receivedAt: isoTime(l.receivedAt), deliveryCount: l.deliveryCount,
    redrivenAt: isoTime(l.redrivenAt), redrivenBy: l.redrivenBy, headers: l.headers, size: l.size, preview: previewOf(l.head, l.size),
  };
}

/** Pure: the document of a dead letter; the bytes round-trip through `data` unchanged. */
export function deadLetterDocument(l: DeadLetter): DeadLetterDocument {
  return {
    id: l.id, subject: l.subject, reason: l.reason, receivedAt: isoTime(l.receivedAt), deliveryCount: l.deliveryCount,
    redrivenAt: isoTime(l.redrivenAt), redrivenBy: l.redrivenBy, headers: l.headers,
    data: Buffer.from(l.data.buffer, l.data.byteOffset, l.data.byteLength).toString('base64'),
    text: asText(l.data),
  };
}
