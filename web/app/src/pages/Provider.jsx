// The compute provider's page: register with a stake, an operator key and an offer; change the
// offer; pause and resume; bond more, unbond and withdraw; and the provider's tasks, disputes
// and earnings.

import { useEffect, useState } from 'react';
import { taskStage } from '@arbiter/client';
import { useChain, useEveryBlock, useTx } from '../chain.js';
import { arbt, parseArbt, percent } from '../format.js';
import { readModels } from './Submit.jsx';
import { Account, ErrorLine, Status } from './common.jsx';

/** The account's provider record, its reputation, tasks and disputes. */
async function readProvider(api, address) {
  const info = (await api.query.computeStaking.providers(address)).unwrapOr(null);
  if (!info) return { info: null };
  const score = (await api.call.computeStakingApi.reputationScore(address)).unwrapOr(null);
  const tasks = [];
  for (const [key, value] of await api.query.taskRegistry.tasks.entries()) {
    const status = value.unwrap().status;
    const who = status.isAssigned ? status.asAssigned.provider
      : status.isCommitted ? status.asCommitted.provider
        : status.isDisputed ? status.asDisputed.provider
          : status.isFinalized ? status.asFinalized.provider : null;
    if (who && who.toString() === address) tasks.push({ id: key.args[0].toNumber(), stage: taskStage(status) });
  }
  const disputes = [];
  for (const [key, value] of await api.query.challenges.disputes.entries()) {
    const d = value.unwrap();
    if (d.provider.toString() === address) disputes.push({ id: key.args[0].toNumber(), task: d.task.toNumber(), challenger: d.challenger.toString() });
  }
  const best = (await api.rpc.chain.getHeader()).number.toNumber();
  return { info, score, tasks: tasks.sort((a, b) => b.id - a.id), disputes, best };
}

/** What `address` was paid for finalized tasks in the last `blocks` blocks (TaskFinalized). */
function useEarnings(address, blocks = 100) {
  const { api } = useChain();
  const [earned, setEarned] = useState(null);
  useEffect(() => {
    let live = true;
    (async () => {
      let hash = await api.rpc.chain.getBlockHash();
      let sum = 0n;
      let count = 0;
      for (let k = 0; k < blocks && live; k++) {
        const at = await api.at(hash);
        for (const { event } of await at.query.system.events()) {
          if (event.section === 'taskRegistry' && event.method === 'TaskFinalized' && event.data[1].toString() === address) {
            sum += event.data[2].toBigInt();
            count += 1;
          }
        }
        const header = await api.rpc.chain.getHeader(hash);
        if (header.number.toNumber() === 0) break;
        hash = header.parentHash;
      }
      if (live) setEarned({ sum, count, blocks });
    })().catch(() => live && setEarned(null));
    return () => {
      live = false;
    };
  }, [api, address, blocks]);
  return earned;
}

export function ProviderPage() {
  const { account } = useChain();
  if (!account) return <p>Choose an account to act as a provider.</p>;
  return <Provider address={account.address} />;
}

function Provider({ address }) {
  const [state, readError] = useEveryBlock((api) => readProvider(api, address), [address]);
  const [models] = useEveryBlock(readModels, []);
  const earned = useEarnings(address);
  if (!state || !models) return <p>reading…</p>;
  return (
    <section>
      <h2>Provider <Account address={address} /></h2>
      <ErrorLine text={readError} />
      {state.info ? <Registered state={state} models={models} earned={earned} address={address} /> : <Register models={models} address={address} />}
    </section>
  );
}

/** The offer's form fields, as text. */
function useOfferForm(address, initial) {
  const [form, setForm] = useState(() => initial ?? {
    models: [], price: '1', pricePerToken: '0.01', capacity: '4', endpoint: 'http://127.0.0.1:9944', hardware: 'Cpu',
  });
  const set = (k) => (e) => setForm((f) => ({ ...f, [k]: e.target.value }));
  const toggle = (id) => setForm((f) => ({ ...f, models: f.models.includes(id) ? f.models.filter((m) => m !== id) : [...f.models, id] }));
  const offer = () => ({
    models: form.models,
    price: parseArbt(form.price),
    pricePerToken: parseArbt(form.pricePerToken),
    capacity: Number(form.capacity),
    endpoint: form.endpoint,
    hardware: form.hardware,
  });
  return { form, set, toggle, offer };
}

function OfferFields({ models, offerForm }) {
  const { form, set, toggle } = offerForm;
  return (
    <fieldset>
      <legend>Offer</legend>
      <p>
        Models:{' '}
        {models.filter((m) => m.approved).map((m) => (
          <label key={m.id} className="inline">
            <input type="checkbox" data-testid={`offer-model-${m.id}`} checked={form.models.includes(m.id)} onChange={() => toggle(m.id)} /> {m.id}: {m.name}
          </label>
        ))}
      </p>
      <p>
        <label>Price a task <input data-testid="offer-price" size={6} value={form.price} onChange={set('price')} /> ARBT</label>{' '}
        <label>a generated token <input size={6} value={form.pricePerToken} onChange={set('pricePerToken')} /> ARBT</label>{' '}
        <label>Tasks at once <input data-testid="offer-capacity" size={3} value={form.capacity} onChange={set('capacity')} /></label>
      </p>
      <p>
        <label>Trace endpoint (this node's RPC, for challengers) <input size={28} value={form.endpoint} onChange={set('endpoint')} /></label>{' '}
        <select value={form.hardware} onChange={set('hardware')}><option>Cpu</option><option>Gpu</option></select>
      </p>
    </fieldset>
  );
}

function Register({ models, address }) {
  const { api } = useChain();
  const tx = useTx();
  const [stake, setStake] = useState('1000');
  const [operator, setOperator] = useState(address);
  const [formError, setFormError] = useState('');
  const offerForm = useOfferForm(address);
  const register = () => {
    try {
      setFormError('');
      tx.send(api.tx.computeStaking.register(parseArbt(stake), operator, offerForm.offer()));
    } catch (e) {
      setFormError(e.message);
    }
  };
  return (
    <>
      <p data-testid="provider-status">Not a provider yet.</p>
      <p>
        <label>Stake <input data-testid="stake" size={8} value={stake} onChange={(e) => setStake(e.target.value)} /> ARBT</label>{' '}
        <label>Operator (the node's hot key) <input data-testid="operator" size={50} value={operator} onChange={(e) => setOperator(e.target.value)} /></label>
      </p>
      <OfferFields models={models} offerForm={offerForm} />
      <button data-testid="register" disabled={tx.busy} onClick={register}>Register</button>
      <ErrorLine text={formError} />
      <Status tx={tx} />
    </>
  );
}

function Registered({ state, models, earned, address }) {
  const { api } = useChain();
  const tx = useTx();
  const { info, score, tasks, disputes, best } = state;
  const [amount, setAmount] = useState('100');
  const [formError, setFormError] = useState('');
  const offerForm = useOfferForm(address, {
    models: info.offer.models.map((m) => m.toNumber()),
    price: (Number(info.offer.price.toBigInt()) / 1e12).toString(),
    pricePerToken: (Number(info.offer.pricePerToken.toBigInt()) / 1e12).toString(),
    capacity: info.offer.capacity.toString(),
    endpoint: new TextDecoder().decode(info.offer.endpoint.toU8a(true)),
    hardware: info.offer.hardware.toString(),
  });
  const send = (make) => {
    try {
      setFormError('');
      tx.send(make());
    } catch (e) {
      setFormError(e.message);
    }
  };
  const withdrawable = info.unlocking.filter((c) => c.unlockAt.toNumber() <= best).reduce((s, c) => s + c.amount.toBigInt(), 0n);
  return (
    <>
      <table className="facts">
        <tbody>
          <tr><th>status</th><td data-testid="provider-status">{info.status.toString()}{info.status.isJailed ? ` until block ${info.jailedUntil}` : ''}</td></tr>
          <tr><th>operator</th><td><Account address={info.operator} /></td></tr>
          <tr><th>active stake</th><td data-testid="active-stake">{arbt(info.active.toBigInt())}</td></tr>
          <tr><th>unbonding</th><td>{info.unlocking.length === 0 ? 'nothing' : info.unlocking.map((c) => `${arbt(c.amount.toBigInt())} at block ${c.unlockAt}`).join('; ')}</td></tr>
          <tr><th>reputation</th><td>{score ? percent(score.toNumber()) : '–'}</td></tr>
          <tr><th>tasks in flight</th><td>{info.tasksInFlight.toNumber()}</td></tr>
          <tr><th>earned</th><td data-testid="earned">{earned ? `${arbt(earned.sum)} for ${earned.count} tasks in the last ${earned.blocks} blocks` : 'reading…'}</td></tr>
        </tbody>
      </table>
      <p>
        {info.status.isActive
          ? <button data-testid="pause" disabled={tx.busy} onClick={() => send(() => api.tx.computeStaking.pause())}>Pause</button>
          : <button data-testid="resume" disabled={tx.busy} onClick={() => send(() => api.tx.computeStaking.resume())}>Resume</button>}{' '}
        <label>Amount <input data-testid="amount" size={8} value={amount} onChange={(e) => setAmount(e.target.value)} /> ARBT</label>{' '}
        <button data-testid="bond-extra" disabled={tx.busy} onClick={() => send(() => api.tx.computeStaking.bondExtra(parseArbt(amount)))}>Bond more</button>{' '}
        <button data-testid="unbond" disabled={tx.busy} onClick={() => send(() => api.tx.computeStaking.unbond(parseArbt(amount)))}>Unbond</button>{' '}
        <button data-testid="withdraw" disabled={tx.busy} onClick={() => send(() => api.tx.computeStaking.withdrawUnbonded())}>Withdraw {withdrawable > 0n ? arbt(withdrawable) : ''}</button>
      </p>
      <OfferFields models={models} offerForm={offerForm} />
      <button data-testid="update-offer" disabled={tx.busy} onClick={() => send(() => api.tx.computeStaking.updateOffer(offerForm.offer()))}>Update the offer</button>
      <ErrorLine text={formError} />
      <Status tx={tx} />
      <h3>Tasks</h3>
      {tasks.length === 0 ? <p className="muted">none on chain</p> : (
        <table data-testid="provider-tasks">
          <thead><tr><th>task</th><th>stage</th></tr></thead>
          <tbody>{tasks.map((t) => <tr key={t.id}><td>{t.id}</td><td>{t.stage.text}</td></tr>)}</tbody>
        </table>
      )}
      <h3>Disputes</h3>
      {disputes.length === 0 ? <p className="muted">none open</p> : (
        <table>
          <thead><tr><th>dispute</th><th>task</th><th>challenger</th></tr></thead>
          <tbody>{disputes.map((d) => <tr key={d.id}><td>{d.id}</td><td>{d.task}</td><td><Account address={d.challenger} /></td></tr>)}</tbody>
        </table>
      )}
    </>
  );
}
