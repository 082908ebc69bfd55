/**
 * The worker pool: `size` task workers plus one warm spare. A task goes to an idle worker or
 * waits in a FIFO queue. Pre-emption is `worker.terminate()` (V8 interrupts even a tight wasm
 * loop): on timeout, cancel or death the worker is dropped, the spare takes its place at once
 * and a new spare starts in the background, so the next task never waits for a thread to boot.
 *
 * Requests and results travel through a shared-memory channel per worker (channel.ts, read
 * and written by slot.ts). While tasks queue, each worker also holds prefetched tasks in its
 * inbox, so it starts the next task the moment it publishes a result instead of idling for a
 * round trip through the main thread (most of the per-task cost for short tasks). How many depends on how long
 * the worker's last task ran (see `depth`): short tasks gain the most and long ones would
 * block what waits behind them. A prefetched task's deadline starts when the main thread
 * learns its predecessor ended. If the worker is killed, its prefetched tasks go back to the
 * head of the queue (one may then run twice, in a rare race: tasks are pure functions of their
 * inputs and the lost attempt's outcome was never reported). Cancelling a prefetched task
 * uses the run-state handshake (protocol.ts), so the worker skips it. Deadlines: one timer per
 * worker, re-armed lazily (armDeadline). Live output: guests write it into shared memory
 * (live.ts); one timer per pool reads it while runs with a listener are running (poll), and a
 * killed or dead worker's job takes in what it holds before its outcome is decided.
 *
 * Over 300 lines: queueing, prefetch, deadlines, kills and the output poll all act on the same
 * slots and queue; split apart, each part would reach into the others' state.
 */
import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import type { OutcomeKind } from '../domain/index.js';
import { Channel } from './channel.js';
import { collectOutput, Fifo, outcomeOf, partial, received, started } from './job.js';
import { LiveOutput, STAGE_BYTES, type StageMessage } from './live.js';
import { CANCELLED, PENDING, RUN_STATES, type FromWorker, type Result, type WorkerInit } from './protocol.js';
import { Slot, WakeHold, type Job } from './slot.js';
import type { PoolStats, RunOutcome } from './types.js';

/** Starts a task worker with its init data (the ports travel in the transfer list). */
export type WorkerStarter = (init: WorkerInit, transfer: MessagePort[]) => Worker;

export class Pool {
  private readonly slots: Slot[] = [];
  /** Wakes of sleeping workers, held while a slot drains its results (see WakeHold). */
  private readonly wakes = new WakeHold();
  private spare: Slot | null = null;
  private readonly queue = new Fifo<Job>();
  private queued = 0;
  private tasksRun = 0;
  private workersReplaced = 0;
  private startFailures = 0;
  private closed = false;
  /** One timer for the pool that reads live output while runs with a listener are running. */
  private poller: NodeJS.Timeout | null = null;

  constructor(
    private readonly size: number,
    /** How often the poller runs (RuntimeOptions.outputFlushMs). */
    private readonly flushMs: number,
    private readonly startWorker: WorkerStarter,
  ) {
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
    this.spare = this.spawn();
  }

  submit(job: Job): void {
    if (this.closed) return this.finish(job, partial(job, 'cancelled', 'runtime closed'));
    if (job.signal !== undefined) {
      if (job.signal.aborted) return this.finish(job, partial(job, 'cancelled', 'cancelled before start'));
      job.abort = () => this.onAbort(job);
      job.signal.addEventListener('abort', job.abort, { once: true });
    }
    for (const slot of this.slots) if (slot.state === 'idle') return this.dispatch(slot, job);
    this.queue.push(job);
    this.queued++;
    // Short tasks: the least loaded busy worker with room in its inbox takes it now rather than
    // at its next result; waiting for that let workers run dry and sleep while work sat here
    // (measured ~10 % more throughput at 32 in flight). Longer tasks gain nothing from it.
    let best: Slot | null = null;
    for (const slot of this.slots) {
      if (slot.state !== 'busy' || slot.lastRunMs >= 1 || slot.inbox.length >= this.depth(slot) - 1) continue;
      if (best === null || slot.inbox.length < best.inbox.length) best = slot;
    }
    if (best !== null) this.pump(best);
  }

  /** Forget a compiled module everywhere (the cache evicted it). */
  evict(moduleId: number): void {
    for (const slot of [...this.slots, this.spare]) slot?.evict(moduleId);
  }

  /** PoolStats but for the module cache, which runtime/index.ts adds. */
  counters(): Omit<PoolStats, 'compiledModules'> {
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
    if (this.poller !== null) clearTimeout(this.poller);
    for (const job of this.queue.drain()) if (!job.done) this.finish(job, partial(job, 'cancelled', 'runtime closed'));
    this.queued = 0;
    const all = [...this.slots, this.spare].filter((s): s is Slot => s !== null);
    this.slots.length = 0;
    this.spare = null;
    await Promise.all(
      all.map((slot) => {
        if (slot.job !== null && !slot.job.done) collectOutput(slot, slot.job);
        for (const job of [slot.job, ...slot.inbox]) {
          if (job !== null && !job.done) this.finish(job, partial(job, 'cancelled', 'runtime closed'));
        }
        slot.retire();
        return slot.worker.terminate();
      }),
    );
  }

  private spawn(): Slot {
    const ch = Channel.create();
    const live = LiveOutput.create();
    const { port1, port2 } = new MessageChannel();
    const out = new MessageChannel();
    const worker = this.startWorker({ channel: ch.sab, data: port2, output: live.sab, out: out.port2 }, [port2, out.port2]);
    const slot = new Slot(worker, ch, port1, live, out.port1, this.onDone, this.wakes);
    worker.on('message', (m: FromWorker) => this.onMessage(slot, m));
    out.port1.on('message', (m: StageMessage) => this.onStage(slot, m));
    worker.on('error', (e: Error) => this.onDeath(slot, `worker crashed: ${e.message}`));
    worker.on('exit', (code: number) => this.onDeath(slot, `worker exited with code ${code}`));
    // Idle workers never keep the process alive; the runtime holds a handle while runs are
    // pending. After the listeners: adding a 'message' listener refs the port again.
    worker.unref();
    port1.unref();
    out.port1.unref();
    slot.drain();
    return slot;
  }

  private dispatch(slot: Slot, job: Job): void {
    slot.post(job);
    this.start(slot, job);
  }

  /** The job is (about to be) running in the slot's worker: its deadline starts now. */
  private start(slot: Slot, job: Job): void {
    slot.state = 'busy';
    slot.job = job;
    job.dispatchedAt = performance.now();
    // The deadline runs from dispatch: it covers instantiation, the start function and host calls.
    job.deadline = job.dispatchedAt + job.timeoutMs;
    this.armDeadline(slot, job.deadline);
    if (job.onOutput !== undefined && this.poller === null) this.armPoller();
    started(job);
  }

  private armPoller(): void {
    // At least 1 ms: outputFlushMs 0 must not spin the main thread.
    this.poller = setTimeout(this.poll, Math.max(1, this.flushMs));
    this.poller.unref(); // the runtime's keep-alive handle holds the process while runs are pending
  }

  /**
   * Every `flushMs` while a run with a listener is running: hand on what the guests wrote since
   * (live.ts), so output arrives even from a guest that never calls the host again.
   */
  private readonly poll = (): void => {
    this.poller = null;
    let listening = false;
    for (const slot of this.slots) {
      slot.drain(); // results first: the output of a run that ended is in its result
      const job = slot.job;
      if (job === null || job.done || job.onOutput === undefined) continue;
      collectOutput(slot, job);
      listening = true;
    }
    if (listening) this.armPoller();
  };

  /**
   * One timer per worker instead of one per job: most jobs end long before their deadline, so
   * the timer is left armed and, when it fires, re-armed for the job running then (or dropped
   * when the worker is idle). It is only moved earlier, for a job with a nearer deadline.
   */
  private armDeadline(slot: Slot, at: number): void {
    if (slot.timer !== null) {
      if (slot.timerAt <= at) return;
      clearTimeout(slot.timer);
    }
    slot.timerAt = at;
    // Rounded up: a timer may not fire before the deadline it was armed for.
    slot.timer = setTimeout(this.onTimer, Math.max(1, Math.ceil(at - performance.now())), slot);
    slot.timer.unref(); // the runtime's keep-alive handle holds the process while runs are pending
  }

  private readonly onTimer = (slot: Slot): void => {
    slot.timer = null;
    // A result the worker published but whose wake-up has not reached us yet: take it in first,
    // so a job that ended in time is never reported as timed out.
    slot.drain();
    const job = slot.job;
    if (slot.state === 'dead' || job === null || job.done) return;
    // Armed for an earlier job, or libuv's millisecond clock ran ahead of performance.now().
    if (job.deadline > performance.now()) return this.armDeadline(slot, job.deadline);
    this.kill(job, 'timeout', `timed out after ${job.timeoutMs} ms`);
  };

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
   * sub-millisecond task is dominated by the hand-over, so keep many queued in the worker (on a
   * loaded machine a deeper inbox means fewer sleep/wake cycles when the main thread is
   * descheduled: 16 measured ~15-30 % less CPU per task than 8); a task of 10 ms or more gains
   * nothing and would make the next one wait behind it. Bounded by the ring (REQ_SLOTS).
   */
  private depth(slot: Slot): number {
    return slot.lastRunMs < 1 ? 16 : slot.lastRunMs < 10 ? 2 : 1;
  }

  /** Give a ready task slot the next live job in the queue, and more to prefetch. */
  private pump(slot: Slot): void {
    if (slot.job === null) {
      // Only skipped (cancelled) entries can fill the ring of an idle worker: recycle it.
      if (!slot.hasRoom()) return this.replace(slot);
      const job = this.take() ?? this.steal();
      if (job === undefined) return;
      this.dispatch(slot, job);
    }
    for (let room = this.depth(slot) - 1 - slot.inbox.length; room > 0 && slot.hasRoom(); room--) {
      const next = this.take();
      if (next === undefined) return;
      slot.post(next);
      slot.inbox.push(next);
    }
  }

  /**
   * An idle worker and an empty queue while another worker still holds prefetched jobs (its
   * current task turned out long): take the last of them back through the cancel handshake, so
   * it runs now instead of waiting behind that task. If the worker has already started it (it
   * finished everything before; those results are on their way), leave it there.
   */
  private steal(): Job | undefined {
    for (const victim of this.slots) {
      const job = victim.inbox.at(-1);
      if (job === undefined || job.done) continue;
      if (Atomics.compareExchange(victim.ch.states, job.seq % RUN_STATES, PENDING, CANCELLED) !== PENDING) continue;
      victim.inbox.pop();
      job.slot = null;
      return job;
    }
    return undefined;
  }

  private onMessage(slot: Slot, m: FromWorker): void {
    if (slot.state === 'dead') return;
    slot.state = 'idle';
    this.startFailures = 0;
    if (slot !== this.spare) this.pump(slot);
  }

  /** A full output area, posted by the worker (live.ts). */
  private onStage(slot: Slot, m: StageMessage): void {
    // Take in any result published before it first, so it is matched with the job that wrote it.
    slot.drain();
    const job = slot.job;
    if (job === null || job.done || job.seq !== m.seq) return;
    received(job, m.stream, m.gen * STAGE_BYTES, m.data);
  }

  private readonly onDone = (slot: Slot, m: Result): void => {
    const job = slot.job!;
    slot.job = null;
    slot.state = 'idle';
    this.tasksRun++;
    slot.lastRunMs = m.runMs;
    if (!job.done) this.finish(job, outcomeOf(job, m));
    // The worker has already moved on to the next job in its inbox (cancelled ones were taken out).
    const next = slot.inbox.shift();
    if (next !== undefined) this.start(slot, next);
    this.pump(slot);
  };

  private onAbort(job: Job): void {
    if (job.done) return;
    if (job.slot === null) {
      this.queued--;
      return this.finish(job, partial(job, 'cancelled', 'cancelled while queued'));
    }
    const slot = job.slot;
    const waiting = slot.inbox.indexOf(job);
    if (waiting >= 0) {
      // Still in the worker's inbox: the worker will skip it if we win the handshake.
      if (Atomics.compareExchange(slot.ch.states, job.seq % RUN_STATES, PENDING, CANCELLED) === PENDING) {
        slot.inbox.splice(waiting, 1);
        return this.finish(job, partial(job, 'cancelled', 'cancelled while queued'));
      }
      // Lost: the worker has started it, so its predecessor ended and that result is still on
      // its way. Stop the worker; the predecessor goes back to the queue with the rest.
      slot.inbox.splice(waiting, 1);
      const prev = slot.job;
      if (prev !== null && !prev.done) {
        prev.dispatchedAt = 0;
        slot.inbox.unshift(prev);
      }
      slot.job = job;
    }
    this.kill(job, 'cancelled', 'cancelled while running');
  }

  /** Stop a running job by terminating its worker; it keeps what it wrote up to now. */
  private kill(job: Job, kind: OutcomeKind, error: string): void {
    const slot = job.slot!;
    collectOutput(slot, job);
    const outcome = partial(job, kind, error);
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
    // What the guest wrote before the thread died is in shared memory, which outlives it.
    if (job !== null && !job.done) collectOutput(slot, job);
    this.requeuePrefetched(slot);
    if (slot.state === 'starting' && ++this.startFailures >= 3) {
      // Workers cannot even start: fail what waits instead of queueing forever.
      for (const j of this.queue.drain()) if (!j.done) this.finish(j, partial(j, 'host_error', reason));
      this.queued = 0;
    }
    this.replace(slot);
    if (job !== null && !job.done) this.finish(job, partial(job, 'host_error', reason));
  }

  /** Drop a worker: the spare takes its place now, a new spare boots in the background. */
  private replace(slot: Slot): void {
    slot.retire();
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
    if (job.abort !== null) job.signal!.removeEventListener('abort', job.abort);
    job.resolve(outcome);
  }
}
