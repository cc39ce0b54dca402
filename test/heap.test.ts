import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { configHelp, loadConfig } from '../engine/config.js';
import { applyHeapGrowth } from '../engine/heap.js';

const HEAP = fileURLToPath(new URL('../dist/engine/heap.js', import.meta.url));

// A child that keeps about 30 MB live and churns garbage that survives young collections, as
// sagad's in-flight sagas do; it prints the largest heap seen. The same program at two
// settings, so only the setting differs.
const CHURN = `
import { getHeapStatistics } from 'node:v8';
const { applyHeapGrowth } = await import(process.argv[1]);
applyHeapGrowth(Number(process.argv[2]));
const live = [];
for (let i = 0; i < 200000; i++) live.push({ a: 'x'.repeat(50) + i, b: [i, i + 1] });
let held = [];
let largest = 0;
for (let r = 0; r < 3000; r++) {
  for (let i = 0; i < 2000; i++) held.push({ s: JSON.stringify({ r, i, pad: 'y'.repeat(100) }) });
  if (held.length > 20000) held = held.slice(10000);
  if (r % 20 === 0) largest = Math.max(largest, getHeapStatistics().total_heap_size);
}
process.stdout.write(String(largest));
`;

const largestHeap = (percent: number): number =>
  // Through env(1), which drops the NODE_OPTIONS tap puts on every child it starts (its
  // process-info loader changes how the heap grows): the child runs as sagad does.
  Number(execFileSync('env', ['-u', 'NODE_OPTIONS', process.execPath, '--input-type=module', '-e', CHURN, HEAP, String(percent)], { encoding: 'utf8' }));

t.test('SAGA_HEAP_GROWTH: the lower the setting, the smaller the heap beside the same live data', async (t) => {
  // V8's own factor depends on how fast its collections are on the machine at that moment;
  // set ones do not, so two set values are compared.
  const loose = largestHeap(300);
  const lean = largestHeap(25);
  t.ok(lean < loose * 0.8, `largest heap at 25%: ${(lean / 2 ** 20).toFixed(0)} MB, at 300%: ${(loose / 2 ** 20).toFixed(0)} MB`);
});

t.test('SAGA_HEAP_GROWTH: default 50, 0 allowed, bad values named', async (t) => {
  t.equal(loadConfig({}).heapGrowthPercent, 50);
  t.equal(loadConfig({ SAGA_HEAP_GROWTH: '0' }).heapGrowthPercent, 0);
  t.throws(() => loadConfig({ SAGA_HEAP_GROWTH: '-5' }), { code: 'SAGA_ERR_CONFIG', message: /SAGA_HEAP_GROWTH="-5": must be an integer from 0 to 1000 \(percent\)/ });
  t.throws(() => applyHeapGrowth(1.5), RangeError);
  t.match(configHelp(), /SAGA_HEAP_GROWTH\s+how far, in percent, .* \(default: 50\)/);
});
