/**
 * What the CLI touches of its process, in one place: the commands take it as an argument, so a
 * test can drive them without a terminal (the real binary is tested too, test/integration/cli).
 */
export interface Io {
  env: NodeJS.ProcessEnv;
  stdinIsTTY: boolean;
  /** Whether stderr is a terminal: progress lines go there only then. */
  stderrIsTTY: boolean;
  readStdin(): Promise<Uint8Array>;
  /** Raw bytes to stdout or stderr (a guest's output). */
  write(stream: 'stdout' | 'stderr', data: Uint8Array | string): void;
  /** A line to stdout. */
  print(line: string): void;
  /** A line to stderr. */
  error(line: string): void;
  /** Ctrl-C: called once; a second Ctrl-C exits at once. */
  onInterrupt(fn: () => void): void;
}

/** A mistake of the caller (a flag, a file): printed without a stack, exit status 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function processIo(): Io {
  return {
    env: process.env,
    stdinIsTTY: Boolean(process.stdin.isTTY),
    stderrIsTTY: Boolean(process.stderr.isTTY),
    async readStdin() {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    },
    write: (stream, data) => void (stream === 'stdout' ? process.stdout : process.stderr).write(data),
    print: (line) => void process.stdout.write(`${line}\n`),
    error: (line) => void process.stderr.write(`${line}\n`),
    onInterrupt(fn) {
      process.once('SIGINT', () => {
        process.once('SIGINT', () => process.exit(130));
        fn();
      });
    },
  };
}
