/** The `spindle` process: bin/spindle.mjs loads this (compiled, or the source through tsx). */
import { cli } from './main.js';

const code = await cli(process.argv.slice(2));
// Exit once what was written has been flushed (a pipe may still hold it), whatever handles remain.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
