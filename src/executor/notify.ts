/**
 * Telling other nodes that work was queued (the store's NOTIFY), and not hearing it ourselves.
 * A local insert has woken this node's claim loop already, but our own NOTIFY comes back to our own
 * listener: those echoes are swallowed (one per notify sent, forgotten after a second in case one
 * got lost), since an extra empty claim per submit costs a round trip, and PGlite has one
 * connection. Notifies coalesce: while one is in flight, the next waits and covers every request.
 */
import type { Store } from '../store/index.js';
import type { Logger } from './types.js';

export interface NotifyOptions {
  store: Store;
  logger: Logger;
  /** Work may be runnable: wake the claim loop. */
  wake(): void;
}

/** How long a sent notify's echo is expected. */
const ECHO_MS = 1_000;

export function makeNotify({ store, logger, wake }: NotifyOptions) {
  let echoes = 0;
  let echoesUntil = 0;
  let notifying = false;
  let notifyAgain = false;

  /** The listener for the store's NOTIFY (this node's echoes and other nodes' inserts). */
  function onQueued() {
    if (echoes > 0 && Date.now() < echoesUntil) echoes--;
    else wake();
  }

  /** Tells the other nodes there is work queued. */
  function notifyOthers() {
    if (notifying) {
      notifyAgain = true;
      return;
    }
    notifying = true;
    echoes = Date.now() < echoesUntil ? echoes + 1 : 1;
    echoesUntil = Date.now() + ECHO_MS;
    store
      .notifyQueued()
      .catch((err: unknown) => logger.warn({ err }, 'executor: notifyQueued failed'))
      .finally(() => {
        notifying = false;
        if (notifyAgain) {
          notifyAgain = false;
          notifyOthers();
        }
      });
  }

  return { onQueued, notifyOthers };
}
