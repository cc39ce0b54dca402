/** What sagactl prints of text it did not write: control characters and bidi controls as visible `\uXXXX` escapes. */

/**
 * Control characters a terminal acts on (cursor moves, screen clears, a clipboard write by
 * OSC 52, a carriage return that hides what came before), except the newline, the tab and
 * SGR (`ESC [ ... m`), which sagactl's own colours use; and the bidi embeddings, overrides and
 * isolates, which reorder what follows them on screen. The last guard, over every byte printed.
 */
// eslint-disable-next-line no-control-regex -- control characters are exactly what is escaped
const TERMINAL_CONTROL = /\u001b(?!\[[0-9;]*m)|[\u0000-\u0008\u000b-\u001a\u001c-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/**
 * What data may not bring to the terminal: the same, SGR included. Only sagactl's own styling
 * may colour; a dead letter's body or a NATS header carrying `ESC [ 8 m` would hide text.
 */
// eslint-disable-next-line no-control-regex -- control characters are exactly what is escaped
const DATA_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

const escape = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** Pure: `text` with every control character a terminal would act on written as a `\uXXXX` escape; sagactl's colours stay. */
export function terminalSafe(text: string): string {
  return text.replace(TERMINAL_CONTROL, escape);
}

/**
 * Pure: data (instance fields, errors, reasons, dead letters, headers: whatever sagactl did not
 * write itself) ready to print: every control character, ESC of any sequence and every bidi
 * control written as a `\uXXXX` escape; newlines and tabs stay. Apply it before styling.
 */
export function shown(text: string): string {
  return text.replace(DATA_CONTROL, escape);
}
