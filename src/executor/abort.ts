/**
 * A run's cancellation: AbortController's two calls (`abort()`, `signal.aborted`) and the one
 * listener the runtime registers, without the EventTarget behind a real AbortSignal, whose
 * construction and listener bookkeeping cost ~6 µs per run in Node 20.
 */
import type { CancelSignal } from '../runtime/index.js';

export class Abort implements CancelSignal {
  aborted = false;
  #listeners: (() => void)[] | null = null;

  /** The signal to hand the runtime: this object itself. */
  get signal(): this {
    return this;
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const listeners = this.#listeners;
    this.#listeners = null;
    // Like an AbortSignal: every listener runs once, and one that throws does not stop the others
    // (its error surfaces as an uncaught exception, as an EventTarget listener's would).
    for (const listener of listeners ?? []) {
      try {
        listener();
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    if (this.aborted) return;
    (this.#listeners ??= []).push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const i = this.#listeners?.indexOf(listener) ?? -1;
    if (i >= 0) this.#listeners!.splice(i, 1);
  }
}
