// Finding the e2e suite's Chromium: an imagined machine plays "missing", "not root" and "no apt-get",
// so this machine's browser is never touched. (The real machine: CHROMIUM_PATH=/nonexistent npx vitest run test/e2e/live.test.ts.)
import { describe, expect, it } from 'vitest';
import { MANUAL_INSTALL, planChromium, resolveChromium, thisMachine, type Machine } from '../helpers/chromium.js';

/** A machine with these executables (path → `--version` line, or an Error when it exists but does not run). */
function machine(files: Record<string, string | Error>, opts: { chromiumPath?: string; isRoot?: boolean; onPath?: Record<string, string> } = {}): Machine & { files: typeof files } {
  return {
    files,
    chromiumPath: opts.chromiumPath,
    isRoot: opts.isRoot ?? false,
    isFile: (p) => p in files,
    which: (name) => opts.onPath?.[name],
    version: async (p) => {
      const v = files[p];
      if (v instanceof Error) throw v;
      if (v === undefined) throw new Error(`ENOENT ${p}`);
      return v;
    },
  };
}

const APT = { 'apt-get': '/usr/bin/apt-get' };

describe('planChromium', () => {
  it('takes CHROMIUM_PATH over the usual places', async () => {
    const m = machine({ '/opt/chrome/chrome': 'Google Chrome 150', '/usr/bin/chromium': 'Chromium 156' }, { chromiumPath: '/opt/chrome/chrome' });
    expect(await planChromium(m)).toEqual({ kind: 'found', path: '/opt/chrome/chrome', version: 'Google Chrome 150' });
  });

  it('fails on a CHROMIUM_PATH that does not exist, naming the variable, without falling back or installing', async () => {
    const m = machine({ '/usr/bin/chromium': 'Chromium 156' }, { chromiumPath: '/nonexistent', isRoot: true, onPath: APT });
    const plan = await planChromium(m);
    expect(plan.kind).toBe('fail');
    expect(plan.kind === 'fail' && plan.message).toMatch(/^CHROMIUM_PATH=\/nonexistent does not exist/);
  });

  it('fails on a CHROMIUM_PATH that does not run --version, with the reason', async () => {
    const m = machine({ '/tmp/notes.txt': new Error('spawn /tmp/notes.txt EACCES') }, { chromiumPath: '/tmp/notes.txt' });
    const plan = await planChromium(m);
    expect(plan.kind === 'fail' && plan.message).toMatch(/^CHROMIUM_PATH=\/tmp\/notes.txt does not run `--version` \(spawn \/tmp\/notes.txt EACCES\)/);
  });

  it('looks at /usr/bin/chromium, chromium-browser, google-chrome, google-chrome-stable, then PATH, in that order', async () => {
    const all = {
      '/usr/bin/chromium': 'Chromium 156', '/usr/bin/chromium-browser': 'Chromium 155',
      '/usr/bin/google-chrome': 'Google Chrome 154', '/usr/bin/google-chrome-stable': 'Google Chrome 153',
      '/usr/local/bin/chromium': 'Chromium 152',
    };
    const onPath = { chromium: '/usr/local/bin/chromium' };
    const order: string[] = [];
    const files: Record<string, string> = { ...all };
    for (let i = 0; i < 5; i++) {
      const plan = await planChromium(machine(files, { onPath }));
      if (plan.kind !== 'found') throw new Error(`expected a browser, got ${JSON.stringify(plan)}`);
      order.push(plan.path);
      delete files[plan.path];
    }
    expect(order).toEqual(Object.keys(all));
  });

  it('skips a usual place that exists but does not run, and names it if nothing else does', async () => {
    const broken = new Error('exit code 127');
    expect(await planChromium(machine({ '/usr/bin/chromium': broken, '/usr/bin/google-chrome': 'Google Chrome 154' })))
      .toEqual({ kind: 'found', path: '/usr/bin/google-chrome', version: 'Google Chrome 154' });
    const plan = await planChromium(machine({ '/usr/bin/chromium': broken }));
    expect(plan.kind === 'fail' && plan.message).toContain('found but not runnable: /usr/bin/chromium (exit code 127)');
  });

  it('asks to install when nothing is found, as root, with apt-get', async () => {
    expect(await planChromium(machine({}, { isRoot: true, onPath: APT }))).toEqual({ kind: 'install' });
  });

  it('fails naming the command to run when not root, even with apt-get', async () => {
    const plan = await planChromium(machine({}, { isRoot: false, onPath: APT }));
    expect(plan.kind).toBe('fail');
    expect(plan.kind === 'fail' && plan.message).toContain(`\`${MANUAL_INSTALL}\``);
    expect(plan.kind === 'fail' && plan.message).toContain('CHROMIUM_PATH');
    expect(MANUAL_INSTALL).toBe('sudo apt-get install -y chromium');
  });

  it('fails pointing at CHROMIUM_PATH when root has no apt-get', async () => {
    const plan = await planChromium(machine({}, { isRoot: true }));
    expect(plan.kind === 'fail' && plan.message).toMatch(/no apt-get here to install it: .*set CHROMIUM_PATH$/);
  });
});

describe('resolveChromium', () => {
  it('installs once, says so in one line, and returns what the install brought', async () => {
    const m = machine({}, { isRoot: true, onPath: APT });
    const lines: string[] = [];
    let installs = 0;
    const chromium = await resolveChromium(m, async () => { installs++; m.files['/usr/bin/chromium'] = 'Chromium 156'; }, (l) => lines.push(l));
    expect(chromium).toEqual({ path: '/usr/bin/chromium', version: 'Chromium 156' });
    expect(installs).toBe(1);
    expect(lines).toEqual(["installing Debian's chromium for the e2e tests (apt-get install -y chromium)…"]);
  });

  it('does not install when a browser is there', async () => {
    const lines: string[] = [];
    await resolveChromium(machine({ '/usr/bin/chromium': 'Chromium 156' }, { isRoot: true, onPath: APT }), async () => { throw new Error('must not install'); }, (l) => lines.push(l));
    expect(lines).toEqual([]);
  });

  it('fails when the install reports success but leaves no browser, and does not try again', async () => {
    let installs = 0;
    await expect(resolveChromium(machine({}, { isRoot: true, onPath: APT }), async () => { installs++; }, () => {}))
      .rejects.toThrow(/apt-get install chromium succeeded, but no Chromium appeared: set CHROMIUM_PATH/);
    expect(installs).toBe(1);
  });

  it('passes on the install failure', async () => {
    await expect(resolveChromium(machine({}, { isRoot: true, onPath: APT }), async () => { throw new Error('apt-get install -y chromium failed: E: Unable to locate package chromium'); }, () => {}))
      .rejects.toThrow(/Unable to locate package chromium/);
  });

  it('fails without installing when not root', async () => {
    await expect(resolveChromium(machine({}, { onPath: APT }), async () => { throw new Error('must not install'); }, () => {}))
      .rejects.toThrow(MANUAL_INSTALL);
  });
});

describe('thisMachine', () => {
  it('finds executables on PATH and reports what does not run', async () => {
    const m = thisMachine(undefined);
    expect(m.which('sh')).toMatch(/\/sh$/);
    expect(m.which('no-such-program-here')).toBeUndefined();
    expect(m.isFile('/nonexistent')).toBe(false);
    await expect(m.version('/nonexistent')).rejects.toThrow(/ENOENT/);
  });
});
