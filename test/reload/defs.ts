/** Definitions files for the reload tests: sagas of command steps named freely, on subjects by prefix. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** One saga started by `Begin` on `<prefix>.events`; step `s` sends `Do_s` and awaits `Done_s`, undone by `Undo_s`/`Undone_s`. */
export function sagaYaml(name: string, prefix: string, steps: readonly string[]): string {
  return `  - name: ${name}
    start:
      on: { subject: ${prefix}.events, type: Begin }
      key: "{% $input.order %}"
    timeout: 10m
    defaults:
      timeout: 5m
      retry: { maxAttempts: 3, initialInterval: 100ms }
    steps:
${steps.map((s) => `      - name: ${s}
        command: { subject: ${prefix}.commands, type: Do_${s}, payload: { order: "{% $input.order %}" } }
        reply: { subject: ${prefix}.replies, success: [Done_${s}], failure: [Failed_${s}] }
        compensate:
          command: { subject: ${prefix}.commands, type: Undo_${s}, payload: { order: "{% $input.order %}" } }
          reply: { subject: ${prefix}.replies, success: [Undone_${s}] }
`).join('')}`;
}

/** Writes a definitions file of these sagas (YAML fragments of {@link sagaYaml}). */
export function writeDefinitions(dir: string, file: string, sagas: readonly string[]): string {
  const path = join(dir, file);
  writeFileSync(path, `version: 1\nsagas:\n${sagas.join('')}`);
  return path;
}
