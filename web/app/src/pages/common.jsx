// Small pieces every page shows.

/** A refusal or failure, as the chain words it (`pallet.Error: its documentation`). */
export function ErrorLine({ text, testid = 'error' }) {
  if (!text) return null;
  const [name, ...doc] = text.split(': ');
  return (
    <p className="error" data-testid={testid}>
      <strong>{name}</strong>
      {doc.length > 0 && `: ${doc.join(': ')}`}
    </p>
  );
}

/** What a `useTx` sender is doing, and its last error. */
export function Status({ tx }) {
  return (
    <>
      {tx.status && <p className="muted" data-testid="tx-status">{tx.status}</p>}
      <ErrorLine text={tx.error} />
    </>
  );
}

/** `address`, shortened, with the full one on hover. */
export function Account({ address }) {
  const s = address.toString();
  return <span title={s}>{`${s.slice(0, 6)}…${s.slice(-4)}`}</span>;
}
