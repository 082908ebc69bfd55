/**
 * A worker slot: one task worker, its channel (channel.ts) and what the pool knows about it.
 * The channel I/O lives here (posting a job's request, reading published results); scheduling
 * (which job goes where, deadlines, kills) stays in pool.ts.
 *
 * A job (a run on its way through the pool) is declared here too: a job knows the slot it was
 * posted to and a slot its jobs, and two files that name each other would be one module in two
 * parts. What is done with a job (making one, its outcome, the queue) is in job.ts.
 */
import { receiveMessageOnPort, type MessagePort, type Worker } from 'node:worker_threads';
import { INLINE, REQ_HEAD, REQ_SLOTS, REQ_TAIL, RES_HEAD, RES_TAIL, RUN_STATES, WAKE_HOLD_MS, WAKE_MODE, type Channel } from './channel.js';
import type { ComponentCode } from './component/code.js';
import type { LiveOutput } from './live.js';
import { PENDING, type DoneMessage, type Result, type RunMessage } from './protocol.js';
import type { CancelSignal, OutputChunk, RunOutcome } from './types.js';

/** A run on its way through the pool: queued, prefetched in a worker's inbox, or running. */
export interface Job {
  /** The request; it goes inline through the channel when it can, else whole by message. */
  readonly msg: RunMessage;
  /** The compiled module or component; `msg.module`/`msg.component` carry it only to workers that do not hold it yet. */
  readonly module: WebAssembly.Module | null;
  readonly component: ComponentCode | null;
  readonly timeoutMs: number;
  readonly compileMs: number;
  readonly signal: CancelSignal | undefined;
  readonly onOutput: ((chunk: OutputChunk) => void) | undefined;
  /** Told when a worker takes the job up (Pool.start). */
  readonly onStart: (() => void) | undefined;
  readonly resolve: (outcome: RunOutcome) => void;
  /** Set once the outcome is decided; a done job found in the queue is skipped. */
  done: boolean;
  /** The worker slot it was sent to (running or prefetched); null while queued. */
  slot: Slot | null;
  /** When its deadline started (0 while it has not) and when it passes (performance.now()). */
  dispatchedAt: number;
  deadline: number;
  /** Output read live so far (see live.ts): the partial output if the worker is then killed. */
  stdoutChunks: Uint8Array[];
  stderrChunks: Uint8Array[];
  stdoutSent: number;
  stderrSent: number;
  memoryBytes: number;
  abort: (() => void) | null;
  /** Sequence number in its worker (valid once sent). */
  seq: number;
}

type SlotState = 'starting' | 'idle' | 'busy' | 'dead';

/**
 * The wakes of a pool's sleeping workers, held while the pool drains results (Slot.drain) and
 * sent when the outermost drain ends. Each result read there can hand its worker the next queued
 * job (Pool.pump), and a short task is over before the next result has been handled: a worker
 * woken at once ran its one job, slept, and was woken again for the next, a syscall and a
 * context switch per job (46 % of posts in the PostgreSQL throughput phase). Held, it is woken
 * once per drain and finds them all. Only drains hold: a submit's or a claim's post wakes at once,
 * so nothing waits behind other work of the main thread (PGlite runs its statements there).
 */
export class WakeHold {
  private depth = 0;
  private readonly due = new Set<Slot>();

  /** Runs `work` with wakes held; the outermost call sends them, even if `work` throws. */
  during<T>(work: () => T): T {
    this.depth++;
    try {
      return work();
    } finally {
      if (--this.depth === 0 && this.due.size > 0) this.send();
    }
  }

  /** Wakes the slot's worker now, or once the hold ends. */
  wake(slot: Slot): void {
    if (this.depth > 0) this.due.add(slot);
    else slot.wakeWorker();
  }

  private send(): void {
    for (const slot of this.due) slot.wakeWorker();
    this.due.clear();
  }
}

export class Slot {
  state: SlotState = 'starting';
  /** The job running in the worker (its deadline is ticking). */
  job: Job | null = null;
  /** Jobs already posted to the worker, which starts each as soon as the one before ends. */
  readonly inbox: Job[] = [];
  /** Module ids this worker holds. */
  readonly known = new Set<number>();
  /** Duration of the last task here: short tasks get a deeper inbox (see Pool.depth). */
  lastRunMs = 5;
  /** One deadline timer per worker, re-armed lazily (see Pool.armDeadline). */
  timer: NodeJS.Timeout | null = null;
  timerAt = 0;
  /** Sequence number of the next job sent to this worker. */
  private seq = 0;
  /** Ring positions: next request to write, next result to read (int32, wrapping). */
  private reqHead = 0;
  private resTail = 0;
  /** An Atomics.waitAsync on the result head is pending. */
  private listening = false;

  constructor(
    readonly worker: Worker,
    /** Rings and run states shared with the worker. */
    readonly ch: Channel,
    /** The main thread's end of the data port (whole messages, read with receiveMessageOnPort). */
    private readonly data: MessagePort,
    /** The running guest's output (live.ts), and the pool's end of the port for full areas. */
    readonly live: LiveOutput,
    readonly out: MessagePort,
    /** Called with each result the worker publishes, in order. */
    private readonly onResult: (slot: Slot, r: Result) => void,
    /** The pool's held wakes (see WakeHold). */
    private readonly wakes: WakeHold,
  ) {}

  /** Ring room for another request (a worker consumes one entry per job, cancelled ones too). */
  hasRoom(): boolean {
    return ((this.reqHead - Atomics.load(this.ch.ctl, REQ_TAIL)) | 0) < REQ_SLOTS;
  }

  /** Hand a job to the worker: inline in the ring when it fits, else whole over the data port. */
  post(job: Job): void {
    const msg = job.msg;
    const ch = this.ch;
    const index = this.reqHead;
    // A job can be sent twice (re-queued from a killed worker's inbox): decide afresh each time.
    const known = this.known.has(msg.moduleId);
    job.slot = this;
    job.seq = msg.seq = this.seq;
    this.seq = (this.seq + 1) >>> 0; // uint32, as the channel carries it
    Atomics.store(ch.states, job.seq % RUN_STATES, PENDING);
    if (!(known && msg.files.length === 0 && msg.mounts === null && ch.putRequest(index, job.seq, msg))) {
      msg.module = known ? null : job.module;
      msg.component = known ? null : job.component;
      if (!known && msg.keep) this.known.add(msg.moduleId);
      // Posted before the entry is published, so the worker finds it when it reads the entry.
      this.data.postMessage(msg);
      ch.putRequestByMessage(index, job.seq);
    }
    this.reqHead = (index + 1) | 0;
    Atomics.store(ch.ctl, REQ_HEAD, this.reqHead);
    // Only a worker that had taken every earlier entry can be asleep (see worker.ts publish). A
    // wake held till the end of a drain is never lost: the entry is published above, and a worker
    // that reads REQ_HEAD before it waits does not sleep.
    if (Atomics.load(ch.ctl, REQ_TAIL) === index) this.wakes.wake(this);
  }

  /** Wake the worker if it sleeps on the request ring (a no-op for one that is awake). */
  wakeWorker(): void {
    if (this.state !== 'dead') Atomics.notify(this.ch.ctl, REQ_HEAD);
  }

  /** Forget a compiled module (the cache evicted it); an idle worker applies it at once. */
  evict(moduleId: number): void {
    if (!this.known.delete(moduleId)) return;
    this.data.postMessage({ t: 'evict', moduleId });
    Atomics.notify(this.ch.ctl, REQ_HEAD);
  }

  /**
   * Pass on every result the worker has published, then wait (asynchronously) for the next.
   * While the worker holds prefetched short tasks, the wait has a timeout (WAKE_HOLD_MS) and the
   * worker may hold back its wakes (worker.ts publish): one drain then reads several results. A
   * timeout that finds nothing new means a long task: the next wait has no timeout, so a guest
   * that runs for seconds does not keep this thread polling. The wakes of the jobs posted meanwhile
   * go out when it is done (WakeHold).
   */
  drain(afterTimeout = false): void {
    this.wakes.during(() => this.read(afterTimeout));
  }

  private read(afterTimeout: boolean): void {
    const ctl = this.ch.ctl;
    let read = 0;
    for (;;) {
      while (this.state !== 'dead' && this.resTail !== Atomics.load(ctl, RES_HEAD)) {
        const index = this.resTail;
        const r = this.ch.resultType(index) === INLINE ? this.ch.getResult(index) : (receiveMessageOnPort(this.data)!.message as DoneMessage);
        this.resTail = (index + 1) | 0;
        Atomics.store(ctl, RES_TAIL, this.resTail);
        read++;
        this.onResult(this, r);
      }
      if (this.state === 'dead' || this.listening) return;
      const timed = this.inbox.length > 0 && this.lastRunMs < 1 && !(afterTimeout && read === 0);
      // Stored before the wait reads RES_HEAD (see worker.ts publish for why the order matters).
      Atomics.store(ctl, WAKE_MODE, timed ? 1 : 0);
      const wait = timed ? Atomics.waitAsync(ctl, RES_HEAD, this.resTail, WAKE_HOLD_MS) : Atomics.waitAsync(ctl, RES_HEAD, this.resTail);
      if (wait.async) {
        this.listening = true;
        void wait.value.then(this.woken);
        return;
      }
    }
  }

  private readonly woken = (how: 'ok' | 'timed-out'): void => {
    this.listening = false;
    this.drain(how === 'timed-out');
  };

  /** Mark the slot dead and let go of its timer, its pending wait and its data port. */
  retire(): void {
    this.state = 'dead';
    this.job = null;
    this.inbox.length = 0;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    // Settles our own pending Atomics.waitAsync, which would otherwise hold the buffer forever.
    Atomics.notify(this.ch.ctl, RES_HEAD);
    this.data.close();
    this.out.close();
  }
}
