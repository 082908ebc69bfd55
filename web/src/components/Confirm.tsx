// The confirmation every destructive action asks for: a modal <dialog> that says what will happen
// to how many, with a named button to go ahead and one to go back (Escape goes back too).
import type { VNode } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

export interface Question {
  title: string;
  message: string;
  /** The go-ahead button's name, e.g. "Delete 3 tasks". */
  confirm: string;
}

function ConfirmDialog({ title, message, confirm, onAnswer }: Question & { onAnswer(yes: boolean): void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const yes = useRef(false);
  useEffect(() => ref.current?.showModal(), []);
  return (
    <dialog ref={ref} class="confirm" aria-labelledby="confirm-h" aria-describedby="confirm-p" onClose={() => onAnswer(yes.current)}>
      <h2 id="confirm-h">{title}</h2>
      <p id="confirm-p">{message}</p>
      <div class="actions">
        <button type="button" class="ghost" autofocus onClick={() => ref.current?.close()}>
          Go back
        </button>
        <button type="button" class="danger" onClick={() => ((yes.current = true), ref.current?.close())}>
          {confirm}
        </button>
      </div>
    </dialog>
  );
}

/** `ask(question)` shows the dialog and resolves true when the user goes ahead; render `dialog` somewhere. */
export function useConfirm(): [ask: (q: Question) => Promise<boolean>, dialog: VNode | null] {
  const [open, setOpen] = useState<{ q: Question; answer(yes: boolean): void } | null>(null);
  const ask = useCallback((q: Question) => new Promise<boolean>((answer) => setOpen({ q, answer })), []);
  const dialog = open ? <ConfirmDialog {...open.q} onAnswer={(yes) => (setOpen(null), open.answer(yes))} /> : null;
  return [ask, dialog];
}
