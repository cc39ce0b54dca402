#!/usr/bin/env node
// The package's bin entry: runs the compiled CLI (built by `npm run build`, which `npm ci` runs).
import('../dist/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
    process.stderr.write('sagactl is not built yet: run `npm run build` (or `npm ci`) in the sagad folder first.\n');
    process.exit(1);
  }
  throw err;
});
