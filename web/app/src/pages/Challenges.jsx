// The challenger's page: open disputes (whose turn, until when), the rulings of recent blocks, and
// a form that challenges one element of a committed result (the bond, `ChallengerBond`, is held
// until the ruling; docs/disputes.md).

import { useEffect, useState } from 'react';
import { protocolParameters, taskStage } from '@arbiter/client';
import { useChain, useEveryBlock, useTx } from '../chain.js';
import { arbt } from '../format.js';
import { Account, ErrorLine, Status } from './common.jsx';

async function readDisputes(api) {
  const out = [];
  for (const [key, value] of await api.query.challenges.disputes.entries()) {
    const d = value.unwrap();
    out.push({
      id: key.args[0].toNumber(),
      task: d.task.toNumber(),
      provider: d.provider.toString(),
      challenger: d.challenger.toString(),
      element: `(${d.element.node}, ${d.element.row}, ${d.element.col})`,
      round: d.round.toNumber(),
      turn: d.turn.toString(),
      deadline: d.deadline.toNumber(),
      bond: d.bond.toBigInt(),
    });
  }
  return out.sort((a, b) => b.id - a.id);
}

const RULINGS = ['ProviderWon', 'ProviderLost', 'DisputeDismissed', 'Challenged', 'TokenChoiceChallenged', 'Answered', 'Descended'];

/** The challenges pallet's events of the last `blocks` blocks, then of each new block. */
function useRulings(blocks = 100) {
  const { api } = useChain();
  const [events, setEvents] = useState([]);
  useEffect(() => {
    let live = true;
    let unsub = () => {};
    const collect = async (hash, number) => {
      const found = [];
      for (const { event } of await (await api.at(hash)).query.system.events()) {
        if (event.section === 'challenges' && RULINGS.includes(event.method)) {
          found.push({ block: number, method: event.method, dispute: event.data[0].toNumber(), task: event.data[1].toNumber(), detail: detail(event) });
        }
      }
      return found;
    };
    (async () => {
      const head = await api.rpc.chain.getHeader();
      let hash = head.hash;
      let number = head.number.toNumber();
      const past = [];
      for (let k = 0; k < blocks && number >= 0 && live; k++) {
        past.push(...(await collect(hash, number)));
        if (number === 0) break;
        hash = (await api.rpc.chain.getHeader(hash)).parentHash;
        number -= 1;
      }
      if (live) setEvents((e) => [...e, ...past]);
      const u = await api.rpc.chain.subscribeNewHeads(async (header) => {
        const found = await collect(header.hash, header.number.toNumber());
        if (live && found.length) setEvents((e) => [...found, ...e.filter((x) => x.block !== header.number.toNumber())]);
      });
      if (live) unsub = u;
      else u();
    })().catch(() => {});
    return () => {
      live = false;
      unsub();
    };
  }, [api, blocks]);
  return events;
}

function detail(event) {
  switch (event.method) {
    case 'ProviderLost': return `${event.data[2].toString()}, ${arbt(event.data[3].toBigInt())} slashed`;
    case 'ProviderWon': return `bond ${arbt(event.data[2].toBigInt() + event.data[3].toBigInt())} forfeited`;
    case 'DisputeDismissed': return `bond ${arbt(event.data[3].toBigInt())} back`;
    case 'Challenged': { const e = event.data[3]; return `element (${e.node}, ${e.row}, ${e.col}) by ${event.data[2].toString().slice(0, 8)}…`; }
    case 'TokenChoiceChallenged': return `step ${event.data[3]}, rival token ${event.data[4]}`;
    case 'Answered': return `round ${event.data[2]}`;
    case 'Descended': { const e = event.data[3]; return `round ${event.data[2]}: element (${e.node}, ${e.row}, ${e.col})`; }
    default: return '';
  }
}

export function ChallengesPage() {
  const [disputes, error] = useEveryBlock(readDisputes, []);
  const rulings = useRulings();
  return (
    <section>
      <h2>Disputes</h2>
      <ErrorLine text={error} />
      {disputes && disputes.length === 0 && <p className="muted" data-testid="no-disputes">No dispute is open.</p>}
      {disputes && disputes.length > 0 && (
        <table data-testid="disputes">
          <thead><tr><th>dispute</th><th>task</th><th>provider</th><th>challenger</th><th>element</th><th>round</th><th>turn</th><th>until block</th><th>bond</th></tr></thead>
          <tbody>
            {disputes.map((d) => (
              <tr key={d.id}>
                <td>{d.id}</td><td>{d.task}</td><td><Account address={d.provider} /></td><td><Account address={d.challenger} /></td>
                <td>{d.element}</td><td>{d.round}</td><td>{d.turn}</td><td>{d.deadline}</td><td>{arbt(d.bond)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Challenge />
      <h3>Recent rulings and moves</h3>
      {rulings.length === 0 ? <p className="muted" data-testid="no-rulings">none in the last 100 blocks</p> : (
        <table data-testid="rulings">
          <thead><tr><th>block</th><th>event</th><th>dispute</th><th>task</th><th></th></tr></thead>
          <tbody>
            {rulings.map((r, k) => <tr key={`${r.block}-${k}`}><td>{r.block}</td><td>{r.method}</td><td>{r.dispute}</td><td>{r.task}</td><td>{r.detail}</td></tr>)}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** Challenges one element of a committed task's trace (node, row, col of the model's graph). */
function Challenge() {
  const { api } = useChain();
  const tx = useTx();
  const [form, setForm] = useState({ task: '', node: '', row: '0', col: '0' });
  const set = (k) => (e) => setForm((f) => ({ ...f, [k]: e.target.value }));
  const [task] = useEveryBlock(async (a) => {
    if (form.task === '' || !/^\d+$/.test(form.task)) return null;
    const t = (await a.call.taskRegistryApi.task(Number(form.task))).unwrapOr(null);
    return t ? taskStage(t.status).text : 'no such task';
  }, [form.task]);
  const [params] = useEveryBlock(protocolParameters, []);
  const bond = params?.find((p) => p.name === 'ChallengerBond')?.value;
  return (
    <>
      <h3>Challenge an element</h3>
      <p className="muted">
        The element is (node, row, col) of the model's graph; the output node's row 0 is the embedding
        (docs/disputes.md). Your bond is held until the ruling{bond ? ` (${arbt(bond)})` : ''}.
      </p>
      <p>
        <label>Task <input data-testid="challenge-task" size={6} value={form.task} onChange={set('task')} /></label>{' '}
        <label>node <input data-testid="challenge-node" size={4} value={form.node} onChange={set('node')} /></label>{' '}
        <label>row <input size={4} value={form.row} onChange={set('row')} /></label>{' '}
        <label>col <input size={4} value={form.col} onChange={set('col')} /></label>{' '}
        <button data-testid="challenge" disabled={tx.busy} onClick={() => tx.send(api.tx.challenges.challenge(Number(form.task), Number(form.node), Number(form.row), Number(form.col)))}>Challenge</button>
      </p>
      {task && <p className="muted" data-testid="challenge-task-stage">task {form.task}: {task}</p>}
      <Status tx={tx} />
    </>
  );
}

