/**
 * Writes the configuration table (from src/config, the single source) into README.md between the
 * markers `<!-- config:begin -->` and `<!-- config:end -->`. `--check` exits 1 when it is stale
 * (test/unit/readme.test.ts checks the same in CI).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { configTableMarkdown } from '../src/config/index.js';

const README = new URL('../README.md', import.meta.url);
const BEGIN = '<!-- config:begin -->';
const END = '<!-- config:end -->';

export function readmeWithConfigTable(readme: string): string {
  const begin = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (begin < 0 || end < begin) throw new Error(`README.md lacks the ${BEGIN} … ${END} markers`);
  return `${readme.slice(0, begin + BEGIN.length)}\n${configTableMarkdown()}\n${readme.slice(end)}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const current = readFileSync(README, 'utf8');
  const wanted = readmeWithConfigTable(current);
  if (process.argv.includes('--check')) {
    if (current !== wanted) {
      console.error('README.md configuration table is stale: run npx tsx scripts/readme-config.ts');
      process.exit(1);
    }
  } else if (current !== wanted) {
    writeFileSync(README, wanted);
    console.log('README.md configuration table updated');
  }
}
