/**
 * The worker pool: `size` task workers plus one warm spare. A task goes to an idle worker or
 * waits in a FIFO queue. Pre-emption is `worker.terminate()` (V8 interrupts even a tight wasm
 * loop): on timeout, cancel or death the worker is dropped, the spare takes its place at once
 * and a new spare starts in the background, so the next task never waits for a thread to boot.
 *
 * While tasks queue, each worker also holds prefetched tasks in its inbox, so it starts the
 * next task the moment it posts a result instead of idling for a round trip through the main
 * thread (which is most of the per-task cost for short tasks). How many depends on how long
 * the worker's last task ran (see `depth`): short tasks gain the most and long ones would
 * block what waits behind them. A prefetched task's deadline starts when the main thread
 * learns its predecessor ended. If the worker is killed, its prefetched tasks go back to the
 * head of the queue (one may then run twice, in a rare race: tasks are pure functions of their
 * inputs and the lost attempt's outcome was never reported). Cancelling a prefetched task
 * uses the run-state handshake in protocol.ts, so the worker skips it.
 */
import type { Worker } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import type { OutcomeKind } from '../domain/index.js';
import { concat, Fifo, Slot, type Job } from './job.js';
import { CANCELLED, PENDING, RUN_STATES, type DoneMessage, type FromWorker, type OutputMessage } from './protocol.js';
import type { RunOutcome } from './types.js';

export interface PoolCounters {
  workers: number;
  busy: number;
  idle: number;
  spares: number;
  queued: number;
  tasksRun: number;
  workersReplaced: number;
}

export class Pool {
  private readonly slots: Slot[] = [];
  private spare: Slot | null = null;
  private readonly queue = new Fifo<Job>();
  private queued = 0;
  private tasksRun = 0;
  private workersReplaced = 0;
  private startFailures = 0;
  private closed = false;

  constructor(
    private readonly size: number,
    private readonly startWorker: (workerData: unknown) => Worker,
  ) {
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
    this.spare = this.spawn();
  }

  submit(job: Job): void {
    if (this.closed) return this.finish(job, this.partial(job, 'cancelled', 'runtime closed'));
    if (job.signal !== undefined) {
      if (job.signal.aborted) return this.finish(job, this.partial(job, 'cancelled', 'cancelled before start'));
      job.abort = () => this.onAbort(job);
      job.signal.addEventListener('abort', job.abort, { once: true });
    }
    for (const slot of this.slots) if (slot.state === 'idle') return this.dispatch(slot, job);
    this.queue.push(job);
    this.queued++;
  }

  /** Forget a compiled module everywhere (the cache evicted it). */
  evict(key: string): void {
    for (const slot of [...this.slots, this.spare]) {
      if (slot === null || !slot.known.delete(key)) continue;
      slot.worker.postMessage({ t: 'evict', key });
    }
  }

  counters(): PoolCounters {
    let busy = 0;
    let idle = 0;
    for (const s of this.slots) {
      if (s.state === 'busy') busy++;
      else if (s.state === 'idle') idle++;
    }
    const spares = this.spare !== null && this.spare.state === 'idle' ? 1 : 0;
    return { workers: this.size, busy, idle, spares, queued: this.queued, tasksRun: this.tasksRun, workersReplaced: this.workersReplaced };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.drain()) if (!job.done) this.finish(job, this.partial(job, 'cancelled', 'runtime closed'));
    this.queued = 0;
    const all = [...this.slots, this.spare].filter((s): s is Slot => s !== null);
    this.slots.length = 0;
    this.spare = null;
    await Promise.all(
      all.map((slot) => {
        for (const job of [slot.job, ...slot.inbox]) {
          if (job !== null && !job.done) this.finish(job, this.partial(job, 'cancelled', 'runtime closed'));
        }
        slot.state = 'dead';
        slot.job = null;
        slot.inbox.length = 0;
        return slot.worker.terminate();
      }),
    );
  }

  private spawn(): Slot {
    const states = new SharedArrayBuffer(RUN_STATES * Int32Array.BYTES_PER_ELEMENT);
    const worker = this.startWorker({ states });
    const slot = new Slot(worker, new Int32Array(states));
    worker.on('message', (m: FromWorker) => this.onMessage(slot, m));
    worker.on('error', (e: Error) => this.onDeath(slot, `worker crashed: ${e.message}`));
    worker.on('exit', (code: number) => this.onDeath(slot, `worker exited with code ${code}`));
    // Idle workers never keep the process alive; the runtime holds a handle while runs are
    // pending. After the listeners: adding a 'message' listener refs the port again.
    worker.unref();
    return slot;
  }

  private dispatch(slot: Slot, job: Job): void {
    this.send(slot, job);
    this.start(slot, job);
  }

  private send(slot: Slot, job: Job): void {
    const msg = job.msg;
    // A job can be sent twice (re-queued from a killed worker's inbox): decide afresh each time.
    msg.module = slot.known.has(msg.key) ? null : job.module;
    if (msg.module !== null && msg.keep) slot.known.add(msg.key);
    job.slot = slot;
    job.seq = msg.seq = slot.seq++;
    Atomics.store(slot.states, job.seq % RUN_STATES, PENDING);
    slot.worker.postMessage(msg);
  }

  /** The job is (about to be) running in the slot's worker: its deadline starts now. */
  private start(slot: Slot, job: Job): void {
    slot.state = 'busy';
    slot.job = job;
    job.dispatchedAt = performance.now();
    // The deadline runs from dispatch: it covers instantiation, the start function and host calls.
    job.timer = setTimeout(this.onTimeout, job.timeoutMs, job);
  }

  private take(): Job | undefined {
    for (let job = this.queue.shift(); job !== undefined; job = this.queue.shift()) {
      if (job.done) continue;
      this.queued--;
      return job;
    }
    return undefined;
  }

  /**
   * Jobs a worker should hold (running + prefetched), from how long its last task ran: a
   * sub-millisecond task is dominated by the message round trip, so keep several queued in the
   * worker; a task of 10 ms or more gains nothing and would make the next one wait behind it.
   */
  private depth(slot: Slot): number {
    return slot.lastRunMs < 1 ? 8 : slot.lastRunMs < 10 ? 2 : 1;
  }

  /** Give a ready task slot the next live job in the queue, and more to prefetch. */
  private pump(slot: Slot): void {
    if (slot.job === null) {
      const job = this.take();
      if (job === undefined) return;
      this.dispatch(slot, job);
    }
    for (let room = this.depth(slot) - 1 - slot.inbox.length; room > 0; room--) {
      const next = this.take();
      if (next === undefined) return;
      this.send(slot, next);
      slot.inbox.push(next);
    }
  }

  private onMessage(slot: Slot, m: FromWorker): void {
    if (slot.state === 'dead') return;
    if (m.t === 'done') return this.onDone(slot, m);
    if (m.t === 'out') return this.onChunk(slot, m);
    slot.state = 'idle';
    this.startFailures = 0;
    if (slot !== this.spare) this.pump(slot);
  }

  private onChunk(slot: Slot, m: OutputMessage): void {
    const job = slot.job;
    if (job === null || job.done) return;
    job.memoryBytes = m.memoryBytes;
    if (m.stream === 'stdout') {
      job.stdoutChunks.push(m.data);
      job.stdoutSent += m.data.length;
    } else {
      job.stderrChunks.push(m.data);
      job.stderrSent += m.data.length;
    }
    this.emit(job, m.stream, m.data);
  }

  private onDone(slot: Slot, m: DoneMessage): void {
    const job = slot.job!;
    slot.job = null;
    slot.state = 'idle';
    this.tasksRun++;
    slot.lastRunMs = m.runMs;
    if (!job.done) this.finish(job, this.outcomeOf(job, m));
    // The worker has already moved on to the next job in its inbox (cancelled ones were taken out).
    const next = slot.inbox.shift();
    if (next !== undefined) this.start(slot, next);
    this.pump(slot);
  }

  private outcomeOf(job: Job, m: DoneMessage): RunOutcome {
    // The live listener has seen a prefix of each stream; hand it the rest before the outcome.
    if (job.onOutput !== undefined) {
      if (m.stdout.length > job.stdoutSent) this.emit(job, 'stdout', m.stdout.subarray(job.stdoutSent));
      if (m.stderr.length > job.stderrSent) this.emit(job, 'stderr', m.stderr.subarray(job.stderrSent));
    }
    return {
      kind: m.kind,
      exitCode: m.exitCode,
      stdout: m.stdout,
      stderr: m.stderr,
      stdoutTruncated: m.stdoutTruncated,
      stderrTruncated: m.stderrTruncated,
      files: m.files,
      trap: m.trap,
      error: m.error,
      compileMs: job.compileMs,
      runMs: m.runMs,
      fuelUsed: m.fuelUsed,
      memoryPeakBytes: m.memoryBytes,
    };
  }

  private emit(job: Job, stream: 'stdout' | 'stderr', data: Uint8Array): void {
    if (job.onOutput === undefined) return;
    try {
      job.onOutput({ stream, data });
    } catch {
      // A listener's failure is the listener's: the run and the pool go on.
    }
  }

  private readonly onTimeout = (job: Job): void => {
    if (!job.done) this.kill(job, 'timeout', `timed out after ${job.timeoutMs} ms`);
  };

  private onAbort(job: Job): void {
    if (job.done) return;
    if (job.slot === null) {
      this.queued--;
      return this.finish(job, this.partial(job, 'cancelled', 'cancelled while queued'));
    }
    const slot = job.slot;
    const waiting = slot.inbox.indexOf(job);
    if (waiting >= 0) {
      // Still in the worker's inbox: the worker will skip it if we win the handshake.
      if (Atomics.compareExchange(slot.states, job.seq % RUN_STATES, PENDING, CANCELLED) === PENDING) {
        slot.inbox.splice(waiting, 1);
        return this.finish(job, this.partial(job, 'cancelled', 'cancelled while queued'));
      }
      // Lost: the worker has started it, so its predecessor ended and that result is still on
      // its way. Stop the worker; the predecessor goes back to the queue with the rest.
      slot.inbox.splice(waiting, 1);
      const prev = slot.job;
      if (prev !== null && !prev.done) {
        if (prev.timer !== null) clearTimeout(prev.timer);
        prev.timer = null;
        prev.dispatchedAt = 0;
        slot.inbox.unshift(prev);
      }
      slot.job = job;
    }
    this.kill(job, 'cancelled', 'cancelled while running');
  }

  /** Stop a running job by terminating its worker. */
  private kill(job: Job, kind: OutcomeKind, error: string): void {
    const outcome = this.partial(job, kind, error);
    const slot = job.slot!;
    this.requeuePrefetched(slot);
    this.replace(slot);
    this.finish(job, outcome);
  }

  /** The prefetched jobs of a worker about to die go back to the head of the queue, in order. */
  private requeuePrefetched(slot: Slot): void {
    for (let i = slot.inbox.length - 1; i >= 0; i--) {
      const job = slot.inbox[i]!;
      if (job.done) continue;
      job.slot = null;
      this.queue.unshift(job);
      this.queued++;
    }
    slot.inbox.length = 0;
  }

  private onDeath(slot: Slot, reason: string): void {
    if (slot.state === 'dead' || this.closed) return;
    const job = slot.job;
    this.requeuePrefetched(slot);
    if (slot.state === 'starting' && ++this.startFailures >= 3) {
      // Workers cannot even start: fail what waits instead of queueing forever.
      for (const j of this.queue.drain()) if (!j.done) this.finish(j, this.partial(j, 'host_error', reason));
      this.queued = 0;
    }
    this.replace(slot);
    if (job !== null && !job.done) this.finish(job, this.partial(job, 'host_error', reason));
  }

  /** Drop a worker: the spare takes its place now, a new spare boots in the background. */
  private replace(slot: Slot): void {
    slot.state = 'dead';
    slot.job = null;
    slot.inbox.length = 0;
    void slot.worker.terminate();
    this.workersReplaced++;
    if (this.closed) return;
    const index = this.slots.indexOf(slot);
    if (index >= 0) {
      const next = this.spare ?? this.spawn();
      this.spare = null;
      this.slots[index] = next;
      if (next.state === 'idle') this.pump(next);
    } else if (slot === this.spare) {
      this.spare = null;
    }
    const delay = this.startFailures > 0 ? Math.min(1000, 50 * 2 ** this.startFailures) : 0;
    const t = setTimeout(() => {
      if (!this.closed && this.spare === null) this.spare = this.spawn();
    }, delay);
    t.unref();
  }

  private finish(job: Job, outcome: RunOutcome): void {
    job.done = true;
    if (job.timer !== null) clearTimeout(job.timer);
    if (job.abort !== null) job.signal!.removeEventListener('abort', job.abort);
    job.resolve(outcome);
  }

  /** The outcome of a run that did not report back: what was streamed so far. */
  private partial(job: Job, kind: OutcomeKind, error: string): RunOutcome {
    const max = job.msg.maxOutputBytes;
    return {
      kind,
      exitCode: null,
      stdout: job.stdoutChunks.length === 0 ? new Uint8Array(0) : concat(job.stdoutChunks),
      stderr: job.stderrChunks.length === 0 ? new Uint8Array(0) : concat(job.stderrChunks),
      stdoutTruncated: job.stdoutSent >= max && max > 0,
      stderrTruncated: job.stderrSent >= max && max > 0,
      files: [],
      error,
      compileMs: job.compileMs,
      // Only a job that started has run time (dispatchedAt is set when its deadline starts).
      runMs: job.slot === null || job.dispatchedAt === 0 ? 0 : performance.now() - job.dispatchedAt,
      memoryPeakBytes: job.memoryBytes,
    };
  }
}
