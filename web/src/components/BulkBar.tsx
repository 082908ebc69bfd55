// Bulk actions on the Tasks page: what is selected (rows, or every task matching the filter), the
// Cancel / Retry / Delete buttons for it (Cancel and Delete confirm first), and what the last one did.
import { useState } from 'preact/hooks';
import { ApiError, gql } from '../api/client.js';
import { bulkMutation, type BulkAction, type BulkResult, type TaskStatus } from '../api/queries.js';
import { useConfirm, type Question } from './Confirm.js';
import { ErrorNote } from './Status.js';

const plural = (n: number, one = 'task') => `${n.toLocaleString()} ${one}${n === 1 ? '' : 's'}`;
const DONE: Record<BulkAction, string> = { cancelTasks: 'Cancelled', retryTasks: 'Queued again', deleteTasks: 'Deleted' };
const SKIPPED: Record<BulkAction, string> = {
  cancelTasks: 'had already ended',
  retryTasks: 'had not failed or been cancelled',
  deleteTasks: 'had not ended',
};

/** One line on what a bulk call did, from its counts. */
export function describeResult(action: BulkAction, r: BulkResult): string {
  let text = `${DONE[action]} ${plural(r.done)}.`;
  if (r.skipped) text += ` ${plural(r.skipped)} skipped (${SKIPPED[action]} or gone).`;
  if (r.remaining) text += ` ${plural(r.remaining)} more match: run it again for those.`;
  return text;
}

export interface BulkBarProps {
  /** The rows picked (ignored while `allMatching`). */
  ids: string[];
  /** Every task matching this filter is picked instead of `ids`. */
  allMatching: boolean;
  filter: { status?: TaskStatus[]; agent?: string; search?: string; createdAfter?: string; createdBefore?: string };
  /** Tasks matching the filter, when known. */
  total: number | undefined;
  /** False when `total` is the server's estimate (past COUNT_EXACT_MAX). */
  totalExact?: boolean;
  /** True when every row of the page is picked (offer "all matching"). */
  pageSelected: boolean;
  onSelectAllMatching(): void;
  onClear(): void;
  /** After an action: the list is stale. */
  onDone(): void;
}

export function BulkBar({ ids, allMatching, filter, total, totalExact = true, pageSelected, onSelectAllMatching, onClear, onDone }: BulkBarProps) {
  const [ask, dialog] = useConfirm();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const [result, setResult] = useState('');
  const count = allMatching ? (total ?? 0) : ids.length;
  // An estimated total reads "≈ 990,000 tasks"; the action itself acts on what matches when it runs.
  const approx = totalExact ? '' : '≈ ';
  const what = allMatching ? `all ${approx}${plural(count)} matching the filter` : `${plural(count)} selected`;

  async function run(action: BulkAction, question?: Question) {
    if (question && !(await ask(question))) return;
    setBusy(true);
    setError(undefined);
    try {
      const data = await gql<Record<BulkAction, BulkResult>>(bulkMutation(action), allMatching ? { filter } : { ids });
      setResult(describeResult(action, data[action]));
      onClear();
      onDone();
    } catch (e) {
      setError(e as ApiError);
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      {result ? <p class="notice" role="status">{result}</p> : null}
      <ErrorNote error={error} />
      {count > 0 ? (
        <div class="bulk-bar" role="region" aria-label="Bulk actions">
          <span aria-live="polite">{allMatching ? `All ${approx}${plural(count)} matching the filter are selected.` : `${plural(count)} selected.`}</span>
          {pageSelected && !allMatching && total !== undefined && total > ids.length ? (
            <button type="button" class="link" onClick={onSelectAllMatching}>Select all {approx}{plural(total)} matching the filter</button>
          ) : null}
          <button type="button" class="link" onClick={onClear}>Clear selection</button>
          <div class="actions">
            <button type="button" class="danger" disabled={busy}
              onClick={() => run('cancelTasks', {
                title: 'Cancel tasks?',
                message: `Cancel ${what}? Queued ones will not run and running ones are stopped; tasks that have ended are skipped.`,
                confirm: `Cancel ${plural(count)}`,
              })}>
              Cancel selected
            </button>
            <button type="button" disabled={busy} onClick={() => run('retryTasks')}>
              Retry selected
            </button>
            <button type="button" class="danger" disabled={busy}
              onClick={() => run('deleteTasks', {
                title: 'Delete tasks?',
                message: `Delete ${what}? Tasks that have ended are deleted with their attempts and output, for good; the others are skipped.`,
                confirm: `Delete ${plural(count)}`,
              })}>
              Delete selected
            </button>
          </div>
        </div>
      ) : null}
      {dialog}
    </>
  );
}
