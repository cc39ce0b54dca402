import sjson from 'secure-json-parse';

/**
 * Limits on what sagad accepts from outside before it parses it deeper: the size of a message
 * or body, the nesting depth of its JSON, and the identifiers it copies into headers and keys.
 * Deep JSON parses fine but overflows the stack of every recursive walk after it (the journal
 * append, schema checks, expressions); a CR or LF in an id makes every header built from it
 * unpublishable. Pure: no I/O.
 */

/** Limits applied to one message or request body. */
export interface InputLimits {
  /** Largest size in bytes. */
  readonly maxBytes: number;
  /** Deepest nesting of arrays and objects (the top-level value is depth 1). */
  readonly maxDepth: number;
}

/** The defaults of SAGA_MAX_MESSAGE_BYTES and SAGA_MAX_JSON_DEPTH. */
export const defaultInputLimits: InputLimits = Object.freeze({ maxBytes: 1_048_576, maxDepth: 64 });

/** Longest identifier sagad accepts: an instance id, a key (given or computed), a correlation id, an envelope id. */
export const MAX_ID_LENGTH = 200;

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Pure: the first nesting depth over `maxDepth` in JSON text or its UTF-8 bytes, or null when
 * none is. One pass without recursion, so it is safe on any input; it counts brackets outside
 * strings and does not check the JSON otherwise (the parser does that afterwards).
 */
export function depthOver(json: string | Uint8Array, maxDepth: number): number | null {
  return typeof json === 'string' ? scanText(json, maxDepth) : scanBytes(json, maxDepth);
}

// Two copies of one loop, each over one type, so the engine compiles each to plain indexed reads (a megabyte in about a millisecond).
function scanBytes(json: Uint8Array, maxDepth: number): number | null {
  let depth = 0;
  let inString = false;
  const n = json.length;
  for (let i = 0; i < n; i++) {
    const c = json[i] as number;
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > maxDepth) return depth;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    }
  }
  return null;
}

function scanText(json: string, maxDepth: number): number | null {
  let depth = 0;
  let inString = false;
  const n = json.length;
  for (let i = 0; i < n; i++) {
    const c = json.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > maxDepth) return depth;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    }
  }
  return null;
}

/**
 * Pure: why `value` cannot serve as an identifier (`name` says which), or null when it can:
 * not empty, at most {@link MAX_ID_LENGTH} characters, only printable characters (no control
 * character: CR and LF would break every header built from it), and well-formed Unicode (no
 * lone surrogate: SQLite keeps UTF-8, and such an id would read back as U+FFFD, naming no row).
 */
export function identifierProblem(name: string, value: string): string | null {
  if (value.length === 0) return `${name} is empty`;
  if (value.length > MAX_ID_LENGTH) return `${name} is ${value.length} characters long; at most ${MAX_ID_LENGTH} are allowed`;
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  const bad = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.exec(value);
  if (bad !== null) return `${name} contains the control character ${codePoint(bad[0])} at ${bad.index}; only printable characters are allowed`;
  // With the u flag a surrogate pair is one code point, so only a lone half matches.
  const lone = /\p{Cs}/u.exec(value);
  if (lone !== null) return `${name} contains the lone surrogate ${codePoint(lone[0])} at ${lone.index}; only well-formed Unicode text is allowed`;
  return null;
}

function codePoint(c: string): string {
  return `U+${c.charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()}`;
}

/**
 * JSON Schema of an identifier given by a client: printable, well-formed, 1 to
 * {@link MAX_ID_LENGTH} characters. ajv compiles patterns with the u flag, which `\p{Cs}` needs.
 */
export const identifierSchema = {
  type: 'string', minLength: 1, maxLength: MAX_ID_LENGTH, pattern: '^[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\p{Cs}]*$',
} as const;

/** Why a text with a prototype key is refused, for a dead letter or a 400. */
export const PROTOTYPE_KEY_REASON = 'it has a key __proto__, or a constructor key holding prototype, which sagad refuses: '
  + 'copied into an object such a key sets its prototype';

/** Thrown by {@link parseJson} for a text with a prototype key. */
export class PrototypeKeyError extends SyntaxError {
  constructor() {
    super(PROTOTYPE_KEY_REASON);
  }
}

/**
 * `JSON.parse` that refuses a `__proto__` key, or a `constructor` key holding `prototype`, at any
 * depth (escaped spellings too: secure-json-parse looks for them in the text first, so a text
 * without one costs two scans): the HTTP API refuses them (fastify's parser), and messages
 * over NATS the same. Throws {@link PrototypeKeyError} for those, SyntaxError for bad JSON.
 */
export function parseJson(text: string): unknown {
  try {
    return sjson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' }) as unknown;
  } catch (err) {
    if (err instanceof SyntaxError && /forbidden prototype property/.test(err.message)) throw new PrototypeKeyError();
    throw err;
  }
}
