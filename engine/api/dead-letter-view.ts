import type { DeadLetter } from '../store/index.js';
import { isoTime } from './views.js';

/** A dead letter as the API shows it: the raw bytes in base64, and as text when they are UTF-8. */
export interface DeadLetterDocument {
  readonly id: string;
  readonly subject: string;
  readonly reason: string;
  readonly receivedAt: string;
  readonly deliveryCount: number;
  readonly redrivenAt: string | null;
  readonly headers: Readonly<Record<string, string>>;
  /** The message exactly as received, base64. */
  readonly data: string;
  /** The message as UTF-8 text, or null when its bytes are not valid UTF-8. */
  readonly text: string | null;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function asText(data: Uint8Array): string | null {
  try {
    return utf8.decode(data);
  } catch {
    return null;
  }
}

/** Pure: the document of a dead letter; the bytes round-trip through `data` unchanged. */
export function deadLetterDocument(l: DeadLetter): DeadLetterDocument {
  return {
    id: l.id, subject: l.subject, reason: l.reason, receivedAt: isoTime(l.receivedAt), deliveryCount: l.deliveryCount,
    redrivenAt: isoTime(l.redrivenAt), headers: l.headers,
    data: Buffer.from(l.data.buffer, l.data.byteOffset, l.data.byteLength).toString('base64'),
    text: asText(l.data),
  };
}
