/** The confirmation of an operator's action: a modal <dialog> (focus kept inside, Escape closes) with a reason. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { describe } from '../api.js';

export interface ConfirmProps {
  readonly title: string;
  /** What will happen, in one or two sentences. */
  readonly message: string;
  readonly confirmLabel: string;
  /** Ask for a reason (required, like the API's cancel, unless `reasonOptional`); null: no reason field. */
  readonly reasonLabel: string | null;
  /** The reason may be left empty (retry, redrive, purge: the API takes one but needs none). */
  readonly reasonOptional?: boolean;
  /** Runs the action; a rejection is shown in the dialog, which stays open. */
  readonly onConfirm: (reason: string) => Promise<void>;
  readonly onClose: () => void;
}

/**
 * The reason as the API takes it: one line. The box lets one type line breaks (and paste tabs),
 * which the API refuses as control characters; each run of them, with the spaces around it,
 * becomes one space.
 */
export function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what it looks for
  return text.replace(/\s*[\u0000-\u001f\u007f]+\s*/g, ' ').trim();
}

/** Opens as a modal at once; closes after the action succeeded or on Escape / Back. */
export function Confirm(p: ConfirmProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const d = ref.current;
    if (d !== null && !d.open) d.showModal();
  }, []);
  const submit = (e: Event) => {
    e.preventDefault();
    if (p.reasonLabel !== null && p.reasonOptional !== true && reason.trim() === '') {
      setError('Please give a reason.');
      return;
    }
    setBusy(true);
    setError(null);
    p.onConfirm(oneLine(reason)).then(() => {
      ref.current?.close();
      p.onClose();
    }, (err: unknown) => {
      setBusy(false);
      setError(describe(err));
    });
  };
  return (
    <dialog ref={ref} class="confirm" aria-labelledby="confirm-title" onClose={p.onClose}>
      <form method="dialog" onSubmit={submit}>
        <h2 id="confirm-title">{p.title}</h2>
        <p>{p.message}</p>
        {p.reasonLabel === null ? null : (
          <label class="field">
            <span>{p.reasonLabel}</span>
            <textarea name="reason" rows={3} maxLength={1000} required={p.reasonOptional !== true} value={reason} autoFocus
              onInput={(e) => setReason((e.target as HTMLTextAreaElement).value)} />
          </label>
        )}
        {error === null ? null : <p class="note error" role="alert">{error}</p>}
        <div class="buttons">
          <button type="button" onClick={() => { ref.current?.close(); }} disabled={busy}>Back</button>
          <button type="submit" class="danger" disabled={busy}>{busy ? 'Working…' : p.confirmLabel}</button>
        </div>
      </form>
    </dialog>
  );
}
