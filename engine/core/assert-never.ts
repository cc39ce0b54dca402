/** Ends an exhaustive switch: a compile error when a case is missing, a throw if reached. */
// Stryker disable all: reached only by a value the types rule out (every caller's switch is exhaustive)
export function assertNever(value: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(value)}`);
}
// Stryker restore all
