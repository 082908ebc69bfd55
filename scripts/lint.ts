/**
 * `npm run lint`: the dependency rule (.dependency-cruiser.cjs) over src/, test/, bench/, scripts/,
 * web/src/ and client/ (once it exists); exits 1 on any violation.
 *
 * Through dependency-cruiser's API rather than its CLI because the CLI exits with the number of
 * errors, which the shell sees modulo 256: 256 violations would pass. And a cruise that resolves
 * no import passes every rule, so a tree in which nothing resolved fails here too.
 * test/unit/lint.test.ts runs `lint` on seeded trees.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise, type ICruiseResult, type IViolation } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const CONFIG = resolve(ROOT, '.dependency-cruiser.cjs');
export const LINTED = ['src', 'test', 'bench', 'scripts', 'web/src', 'client'];

export interface LintResult {
  violations: IViolation[];
  /** Imports between cruised files that resolved to a file (npm and core modules not counted). */
  localImports: number;
  /** The violations grouped by rule, each group under its rule's comment, and a summary line. */
  report: string;
}

/** Cruises `paths` (those that exist) under `baseDir`, with the rules and that tree's tsconfig.json. */
export async function lint(baseDir = ROOT, paths = LINTED): Promise<LintResult> {
  const options = await extractDepcruiseOptions(CONFIG);
  const tsConfig = resolve(baseDir, 'tsconfig.json');
  const found = paths.filter((p) => existsSync(resolve(baseDir, p)));
  if (found.length === 0) throw new Error(`lint: none of ${paths.join(', ')} exists under ${baseDir}`);
  const { output } = await cruise(
    found,
    { ...options, baseDir, tsConfig: { fileName: tsConfig }, outputType: 'json' },
    {},
    { tsConfig: extractTSConfig(tsConfig) },
  );
  const result = JSON.parse(output as string) as ICruiseResult;
  const localImports = result.modules
    .flatMap((m) => m.dependencies)
    .filter((d) => !d.couldNotResolve && !d.coreModule && !d.resolved.startsWith('node_modules/')).length;
  const comments = new Map((options.ruleSet?.forbidden ?? []).map((r) => [r.name, r.comment ?? '']));
  const { violations } = result.summary;
  return { violations, localImports, report: report(violations, comments, result.summary) };
}

function report(violations: IViolation[], comments: Map<string | undefined, string>, summary: ICruiseResult['summary']): string {
  const byRule = new Map<string, IViolation[]>(); // Map.groupBy needs Node 21
  for (const v of violations) byRule.set(v.rule.name, [...(byRule.get(v.rule.name) ?? []), v]);
  const lines: string[] = [];
  for (const [rule, list] of byRule) {
    lines.push(`${rule} (${list.length}): ${comments.get(rule) ?? ''}`);
    for (const v of list) {
      const to = v.cycle ? v.cycle.map((c) => c.name).join(' → ') : v.to;
      lines.push(v.type === 'module' || v.type === 'reachability' ? `  ${v.from}` : `  ${v.from} → ${to}`);
    }
    lines.push('');
  }
  lines.push(`${violations.length} violations; ${summary.totalCruised} modules, ${summary.totalDependenciesCruised} imports cruised`);
  return lines.join('\n') + '\n';
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { violations, localImports, report } = await lint();
  process.stdout.write(report);
  if (localImports === 0) {
    console.error('lint: the cruise resolved no import between our files; module resolution is broken, so nothing was checked.');
    process.exit(1);
  }
  process.exit(violations.some((v) => v.rule.severity === 'error') ? 1 : 0);
}
