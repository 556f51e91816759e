// The voter's page: every protocol parameter with its current value and bounds (the runtime's
// `ProtocolParametersApi`), a proposal to change one (preimage, referendum on the
// protocol-parameters track, decision deposit), and the open referenda with their tallies and
// a conviction vote (docs/governance.md).

import { useState } from 'react';
import { u8aToString } from '@polkadot/util';
import { protocolParameters } from '@arbiter/client';
import { useChain, useEveryBlock, useTx } from '../chain.js';
import { arbt, parseArbt, percent } from '../format.js';
import { ErrorLine, Status } from './common.jsx';

/** A parameter's value as its unit reads. */
export function showValue(unit, value) {
  switch (unit) {
    case 'Balance': return arbt(value);
    case 'Perbill': return percent(value);
    case 'Blocks': return `${value.toLocaleString('en-US')} blocks`;
    case 'Bytes': return `${value.toLocaleString('en-US')} bytes`;
    case 'F32Bits': return new Float32Array(new Uint32Array([Number(value)]).buffer)[0].toExponential(3);
    default: return value.toLocaleString('en-US');
  }
}

/** What the user types for a value of `unit`, as the chain's number. */
function parseValue(unit, text) {
  const t = String(text).trim();
  switch (unit) {
    case 'Balance': return parseArbt(t);
    case 'Perbill': {
      const m = /^(\d+(?:\.\d{0,7})?)\s*%?$/.exec(t);
      if (!m) throw new Error(`"${t}" is not a percentage`);
      return BigInt(Math.round(Number(m[1]) * 1e7));
    }
    case 'F32Bits': {
      const f = Number(t);
      if (!Number.isFinite(f)) throw new Error(`"${t}" is not a number`);
      return BigInt(new Uint32Array(new Float32Array([f]).buffer)[0]);
    }
    default:
      if (!/^\d+$/.test(t)) throw new Error(`"${t}" is not a whole number`);
      return BigInt(t);
  }
}

const CONVICTIONS = ['None', 'Locked1x', 'Locked2x', 'Locked3x', 'Locked4x', 'Locked5x', 'Locked6x'];

export function GovernancePage() {
  const [params, error] = useEveryBlock(protocolParameters, []);
  return (
    <section>
      <h2>Protocol parameters</h2>
      <ErrorLine text={error} />
      {params && (
        <table data-testid="parameters">
          <thead><tr><th>parameter</th><th>current</th><th>bounds</th></tr></thead>
          <tbody>
            {params.map((p) => (
              <tr key={p.name} data-testid={`parameter-${p.name}`}>
                <td>{p.name}</td>
                <td data-testid={`value-${p.name}`}>{showValue(p.unit, p.value)}</td>
                <td>{showValue(p.unit, p.min)} … {showValue(p.unit, p.max)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {params && <Propose params={params} />}
      <Referenda params={params} />
    </section>
  );
}

function Propose({ params }) {
  const { api } = useChain();
  const tx = useTx();
  const [name, setName] = useState(params[0].name);
  const [value, setValue] = useState('');
  const [formError, setFormError] = useState('');
  const param = params.find((p) => p.name === name);
  const propose = async () => {
    let v;
    try {
      v = parseValue(param.unit, value);
      setFormError('');
    } catch (e) {
      setFormError(e.message);
      return;
    }
    const proposal = api.tx.protocolParameters.setParameter({ Protocol: { [name]: [null, v] } });
    const submit = api.tx.referenda.submit(
      { Origins: 'ProtocolParameters' },
      { Lookup: { hash: proposal.method.hash, len: proposal.method.encodedLength } },
      { After: 1 },
    );
    // The same change proposed before has its preimage noted already (noting it again fails).
    const noted = (await api.query.preimage.preimageFor([proposal.method.hash, proposal.method.encodedLength])).isSome;
    const calls = noted ? [submit] : [api.tx.preimage.notePreimage(proposal.method.toHex()), submit];
    const submitted = await tx.send(api.tx.utility.batchAll(calls));
    if (!submitted) return;
    const event = submitted.events.find(({ event: e }) => e.section === 'referenda' && e.method === 'Submitted');
    if (event) await tx.send(api.tx.referenda.placeDecisionDeposit(event.event.data[0]));
  };
  return (
    <>
      <h3>Propose a change</h3>
      <p>
        <select data-testid="propose-parameter" value={name} onChange={(e) => setName(e.target.value)}>
          {params.map((p) => <option key={p.name}>{p.name}</option>)}
        </select>{' '}
        <label>new value <input data-testid="propose-value" size={10} value={value} onChange={(e) => setValue(e.target.value)} /></label>{' '}
        <span className="muted">{param.unit === 'Balance' ? 'ARBT' : param.unit === 'Perbill' ? '%' : param.unit === 'Blocks' ? 'blocks' : ''}; within {showValue(param.unit, param.min)} … {showValue(param.unit, param.max)}</span>{' '}
        <button data-testid="propose" disabled={tx.busy} onClick={propose}>Propose (preimage, referendum, decision deposit)</button>
      </p>
      <ErrorLine text={formError} />
      <Status tx={tx} />
    </>
  );
}

/** The referenda tracks by id: `(id, info)` pairs, or `{ id, info }` structs in newer
 *  releases, with the name as text or as zero-padded bytes. */
function trackNames(api) {
  const names = new Map();
  for (const track of api.consts.referenda.tracks) {
    const [id, info] = Array.isArray(track) ? track : [track.id, track.info];
    const name = info.name.toU8a ? u8aToString(info.name.toU8a(true)).replace(/\0+$/, '') : String(info.name);
    names.set(id.toNumber(), name);
  }
  return names;
}

/** Ongoing referenda, what each would set, its tally, and the account's vote. */
async function readReferenda(api, address) {
  const tracks = trackNames(api);
  const out = [];
  for (const [key, value] of await api.query.referenda.referendumInfoFor.entries()) {
    const info = value.unwrap();
    if (!info.isOngoing) continue;
    const r = info.asOngoing;
    let call = r.proposal.isLookup ? `preimage ${r.proposal.asLookup.hash_.toHex().slice(0, 10)}…` : r.proposal.type;
    if (r.proposal.isLookup) {
      const { hash_: hash, len } = r.proposal.asLookup;
      const bytes = (await api.query.preimage.preimageFor([hash, len])).unwrapOr(null);
      if (bytes) {
        const c = api.registry.createType('Call', bytes.toU8a(true));
        call = `${c.section}.${c.method}(${JSON.stringify(c.args.map((a) => a.toHuman()))})`;
      }
    }
    const track = r.track.toNumber();
    let mine = null;
    if (address) {
      const voting = await api.query.convictionVoting.votingFor(address, track);
      if (voting.isCasting) {
        const found = voting.asCasting.votes.find(([i]) => i.toNumber() === key.args[0].toNumber());
        if (found && found[1].isStandard) {
          const s = found[1].asStandard;
          mine = `${s.vote.isAye ? 'aye' : 'nay'}, ${arbt(s.balance.toBigInt())}, ${s.vote.conviction.toString()}`;
        }
      }
    }
    out.push({
      index: key.args[0].toNumber(),
      track: tracks.get(track) ?? String(track),
      call,
      ayes: r.tally.ayes.toBigInt(),
      nays: r.tally.nays.toBigInt(),
      support: r.tally.support.toBigInt(),
      deciding: r.deciding.isSome ? `deciding since block ${r.deciding.unwrap().since}` : r.decisionDeposit.isSome ? 'preparing' : 'awaiting the decision deposit',
      mine,
    });
  }
  return out.sort((a, b) => b.index - a.index);
}

function Referenda() {
  const { account } = useChain();
  const [referenda, error] = useEveryBlock((api) => readReferenda(api, account?.address), [account?.address]);
  return (
    <>
      <h3>Open referenda</h3>
      <ErrorLine text={error} />
      {referenda && referenda.length === 0 && <p className="muted" data-testid="no-referenda">None is open.</p>}
      {referenda?.map((r) => <Referendum key={r.index} r={r} />)}
    </>
  );
}

function Referendum({ r }) {
  const { api } = useChain();
  const tx = useTx();
  const [amount, setAmount] = useState('100');
  const [conviction, setConviction] = useState('Locked1x');
  const [formError, setFormError] = useState('');
  const vote = (aye) => {
    try {
      setFormError('');
      tx.send(api.tx.convictionVoting.vote(r.index, { Standard: { vote: { aye, conviction }, balance: parseArbt(amount) } }));
    } catch (e) {
      setFormError(e.message);
    }
  };
  return (
    <div className="card" data-testid={`referendum-${r.index}`}>
      <p><strong>#{r.index}</strong> on {r.track}: <code>{r.call}</code></p>
      <p className="muted" data-testid={`tally-${r.index}`}>ayes {arbt(r.ayes)} · nays {arbt(r.nays)} · support {arbt(r.support)} · {r.deciding}</p>
      {r.mine && <p data-testid={`my-vote-${r.index}`}>Your vote: {r.mine}</p>}
      <p>
        <label>Amount <input data-testid={`vote-amount-${r.index}`} size={8} value={amount} onChange={(e) => setAmount(e.target.value)} /> ARBT</label>{' '}
        <select data-testid={`vote-conviction-${r.index}`} value={conviction} onChange={(e) => setConviction(e.target.value)}>
          {CONVICTIONS.map((c) => <option key={c}>{c}</option>)}
        </select>{' '}
        <button data-testid={`vote-aye-${r.index}`} disabled={tx.busy} onClick={() => vote(true)}>Aye</button>{' '}
        <button data-testid={`vote-nay-${r.index}`} disabled={tx.busy} onClick={() => vote(false)}>Nay</button>
      </p>
      <ErrorLine text={formError} />
      <Status tx={tx} />
    </div>
  );
}
