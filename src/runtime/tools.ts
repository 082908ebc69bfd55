/**
 * Tool threads: the programs Spindle runs over what users give it besides their modules — jco
 * transpiling a component (component/transpiler.ts), a compiler building an agent from source
 * (build/). Each job runs in a worker thread of its own pool, one job per thread at a time,
 * with a heap limit (a tool that runs away costs its thread) and a deadline (the thread is
 * terminated and the job fails); a thread is kept while work comes and let go when idle.
 *
 * A tool worker answers each `{ id, req }` message with `{ id, res }` (tools/worker side: `serveTool`).
 */
import { parentPort, type Worker } from 'node:worker_threads';

export interface ToolPoolOptions {
  /** Starts a thread (runtime/index.ts knows how: compiled or from TypeScript sources). */
  start: () => Worker;
  /** Threads at most, each one job at a time; more jobs wait in order. */
  size: number;
  timeoutMs: number;
  /** An idle thread is let go after this long. */
  idleMs: number;
  /** What the tool does, for messages: "transpiling", "the build". */
  doing: string;
  /** The setting that sets the deadline, named in its message (e.g. BUILD_TIMEOUT_MS). */
  limitName?: string;
}

/** The job could not finish: its deadline passed, or its thread died (heap limit, crash). */
export class ToolFailure extends Error {
  override readonly name = 'ToolFailure';
}

interface Job<Req, Res> {
  id: number;
  req: Req;
  resolve(res: Res): void;
  reject(e: Error): void;
}

interface Thread<Req, Res> {
  worker: Worker;
  job: Job<Req, Res> | null;
  timer: NodeJS.Timeout | null;
  idle: NodeJS.Timeout | null;
}

export class ToolPool<Req, Res> {
  private readonly threads = new Set<Thread<Req, Res>>();
  private readonly queue: Job<Req, Res>[] = [];
  private nextId = 1;
  private closed = false;

  constructor(private readonly opts: ToolPoolOptions) {}

  run(req: Req): Promise<Res> {
    if (this.closed) return Promise.reject(new ToolFailure(`${this.opts.doing} stopped: closing`));
    return new Promise<Res>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, req, resolve, reject });
      this.pump();
    });
  }

  /** Jobs waiting for a thread (not counting those running). */
  get waiting(): number {
    return this.queue.length;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new ToolFailure(`${this.opts.doing} stopped: closing`));
    await Promise.all([...this.threads].map((t) => this.retire(t, `${this.opts.doing} stopped: closing`)));
  }

  private pump(): void {
    while (this.queue.length > 0) {
      let thread = [...this.threads].find((t) => t.job === null);
      if (thread === undefined) {
        if (this.threads.size >= this.opts.size) return;
        thread = this.spawn();
      }
      this.assign(thread, this.queue.shift()!);
    }
  }

  private assign(thread: Thread<Req, Res>, job: Job<Req, Res>): void {
    thread.job = job;
    if (thread.idle !== null) clearTimeout(thread.idle);
    thread.idle = null;
    thread.worker.ref();
    thread.timer = setTimeout(() => void this.retire(thread, `${this.opts.doing} took longer than ${this.opts.timeoutMs} ms${this.opts.limitName ? ` (${this.opts.limitName})` : ''}`), this.opts.timeoutMs);
    thread.worker.postMessage({ id: job.id, req: job.req });
  }

  private spawn(): Thread<Req, Res> {
    const thread: Thread<Req, Res> = { worker: this.opts.start(), job: null, timer: null, idle: null };
    this.threads.add(thread);
    thread.worker.on('message', (m: { id: number; res: Res }) => {
      const job = thread.job;
      if (job === null || job.id !== m.id) return;
      this.done(thread);
      job.resolve(m.res);
      this.next(thread);
    });
    // A thread that dies (its heap limit, a crash) fails the job it was doing.
    thread.worker.on('error', (e: Error) => void this.retire(thread, `${this.opts.doing} failed: ${e.message}`));
    thread.worker.on('exit', (code: number) => void this.retire(thread, `${this.opts.doing} stopped (its thread exited with code ${code})`));
    return thread;
  }

  private done(thread: Thread<Req, Res>): void {
    thread.job = null;
    if (thread.timer !== null) clearTimeout(thread.timer);
    thread.timer = null;
  }

  /** The thread takes the next job, or idles: it may not hold the process open, and goes after idleMs. */
  private next(thread: Thread<Req, Res>): void {
    if (this.queue.length > 0) return this.assign(thread, this.queue.shift()!);
    thread.worker.unref();
    if (this.closed) return;
    thread.idle = setTimeout(() => void this.retire(thread, 'idle'), this.opts.idleMs);
    thread.idle.unref();
  }

  /** Ends a thread, failing its job with `why`; waiting jobs go to the others (or a new one). */
  private async retire(thread: Thread<Req, Res>, why: string): Promise<void> {
    if (!this.threads.delete(thread)) return;
    const job = thread.job;
    this.done(thread);
    if (thread.idle !== null) clearTimeout(thread.idle);
    job?.reject(new ToolFailure(why));
    if (!this.closed) this.pump();
    await thread.worker.terminate();
  }
}

/** The worker side: answer each job with `handle`'s result (which must not throw: return the failure). */
export function serveTool<Req, Res>(handle: (req: Req) => Promise<Res>): void {
  const port = parentPort!;
  port.on('message', (m: { id: number; req: Req }) => {
    void handle(m.req).then((res) => port.postMessage({ id: m.id, res }));
  });
}
