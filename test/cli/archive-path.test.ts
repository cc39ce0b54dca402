import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { cli } from './helpers.js';

/**
 * `--dir`/`--archive` naming something other than a directory: a sentence saying what it is and
 * what is expected, exit 1, never "unexpected failure ... a bug in sagactl".
 */
t.test('an archive path that is a file, or under a file, is a clear error', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'sagad-archive-20260101T000000Z-aaaa.ndjson.gz');
  writeFileSync(file, 'not a directory');
  for (const args of [['archive', 'list', '--dir', file], ['archive', 'show', 'i-1', '--dir', file], ['describe', 'i-1', '--archive', file], ['history', 'i-1', '--archive', file]]) {
    const r = await cli(args);
    t.equal(r.code, 1, `${args.join(' ')}: exit 1`);
    t.match(r.err, new RegExp(`^sagactl: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is a file; the archive is a directory of sagad-archive-\\*\\.ndjson\\.gz files\\nHint: Give the SAGA_ARCHIVE_DIR`),
      'says what it is and what is expected');
    t.notMatch(r.err, /unexpected failure|bug in sagactl/);
  }
  const under = await cli(['archive', 'list', '--dir', join(file, 'archive')]);
  t.match(under, { code: 1, err: /^sagactl: the archive directory .* does not exist\n/ }, 'a path through a file does not exist');
  mkdirSync(join(dir, 'empty'));
  const empty = await cli(['archive', 'list', '--dir', join(dir, 'empty'), '-o', 'json']);
  t.equal(empty.code, 0, 'an empty directory is an empty archive');
});
