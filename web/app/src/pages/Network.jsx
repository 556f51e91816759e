// The network at a glance: best and finalized blocks, the validators (Aura authorities), the
// engine of the node this page talks to, and the providers of each model.

import { useChain, useEveryBlock } from '../chain.js';
import { arbt } from '../format.js';
import { readModels } from './Submit.jsx';
import { Account, ErrorLine } from './common.jsx';

async function readNetwork(api) {
  const [best, finalizedHash, authorities, health, models] = await Promise.all([
    api.rpc.chain.getHeader(),
    api.rpc.chain.getFinalizedHead(),
    api.query.aura.authorities(),
    api.rpc.system.health(),
    readModels(api),
  ]);
  const finalized = await api.rpc.chain.getHeader(finalizedHash);
  const perModel = [];
  for (const m of models) {
    const providers = await api.call.computeStakingApi.providersForModel(m.id);
    const rows = [];
    for (const p of providers) {
      const info = (await api.query.computeStaking.providers(p)).unwrapOr(null);
      if (info) rows.push({ address: p.toString(), status: info.status.toString(), stake: info.active.toBigInt(), price: info.offer.price.toBigInt(), capacity: info.offer.capacity.toNumber(), inFlight: info.tasksInFlight.toNumber() });
    }
    perModel.push({ ...m, providers: rows });
  }
  let engine = null;
  try {
    engine = await api.rpc.arbiter.engineStatus();
    engine = engine.toJSON();
  } catch {
    engine = null;
  }
  return {
    best: best.number.toNumber(),
    finalized: finalized.number.toNumber(),
    finalizedHash: finalizedHash.toHex(),
    validators: authorities.map((a) => a.toString()),
    peers: health.peers.toNumber(),
    perModel,
    engine,
  };
}

export function NetworkPage() {
  const [net, error] = useEveryBlock(readNetwork, []);
  const { chain } = useChain();
  if (!net) return <><ErrorLine text={error} /><p>reading…</p></>;
  return (
    <section>
      <h2>{chain}</h2>
      <ErrorLine text={error} />
      <table className="facts">
        <tbody>
          <tr><th>best block</th><td data-testid="best">{net.best}</td></tr>
          <tr><th>finalized block</th><td data-testid="finalized">{net.finalized} <code className="muted">{net.finalizedHash.slice(0, 18)}…</code></td></tr>
          <tr><th>peers of this node</th><td>{net.peers}</td></tr>
          <tr><th>this node's engine</th><td data-testid="engine">{net.engine ? `${net.engine.device}: ${net.engine.models.map((m) => m.name).join(', ')}; ${net.engine.done} jobs done, ${net.engine.queued} queued` : 'none (not a --provider or --watcher node)'}</td></tr>
        </tbody>
      </table>
      <h3>Validators</h3>
      <ul data-testid="validators">{net.validators.map((v) => <li key={v}><Account address={v} /></li>)}</ul>
      <h3>Providers by model</h3>
      {net.perModel.map((m) => (
        <div key={m.id} className="card" data-testid={`providers-of-${m.id}`}>
          <p><strong>{m.id}: {m.name}</strong> ({m.generation ? 'generation' : 'embedding'}{m.approved ? '' : ', not approved'}) · {m.providers.length} providers</p>
          {m.providers.length > 0 && (
            <table>
              <thead><tr><th>provider</th><th>status</th><th>stake</th><th>price</th><th>tasks</th></tr></thead>
              <tbody>{m.providers.map((p) => <tr key={p.address}><td><Account address={p.address} /></td><td>{p.status}</td><td>{arbt(p.stake)}</td><td>{arbt(p.price)}</td><td>{p.inFlight} / {p.capacity}</td></tr>)}</tbody>
            </table>
          )}
        </div>
      ))}
    </section>
  );
}
