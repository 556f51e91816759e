// Against the dev node (fast-runtime: a referendum passes in about a minute): change a protocol
// parameter by referendum on the `protocol-parameters` track, the way a voter does it in
// polkadot.js — note the preimage, submit, place the decision deposit, vote with conviction from
// several accounts, wait for enactment, read the new value from chain state. Then a value outside
// its bounds is refused with a clear error.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, devAccounts, findEvent, signAndWait } from '@arbiter/client';

const UNIT = 10n ** 12n;
let api;
let accounts;

before(async () => {
  api = await connect();
  accounts = await devAccounts();
});

after(async () => {
  await api?.disconnect();
});

/** ChallengeWindow from chain state (pallet-parameters), or the genesis default 10. */
async function challengeWindow() {
  for (const [key, value] of await api.query.parameters.parameters.entries()) {
    const k = key.args[0];
    if (k.isProtocol && k.asProtocol.isChallengeWindow) return value.unwrap().asProtocol.asChallengeWindow.toNumber();
  }
  return 10;
}

/** Resolves with the first `section.method` event (filtered by `where`) in a new block. */
function nextEvent(section, method, where = () => true, timeoutMs = 240_000) {
  return new Promise((resolve, reject) => {
    let unsub = () => {};
    const timer = setTimeout(() => {
      unsub();
      reject(new Error(`no ${section}.${method} within ${timeoutMs} ms`));
    }, timeoutMs);
    api.query.system
      .events((records) => {
        const found = records.find(({ event }) => event.section === section && event.method === method && where(event));
        if (found) {
          clearTimeout(timer);
          unsub();
          resolve(found.event);
        }
      })
      .then((u) => {
        unsub = u;
      });
  });
}

test('a referendum on the protocol-parameters track changes ChallengeWindow', { timeout: 300_000 }, async () => {
  const { alice, bob, charlie, dave } = accounts;
  const before = await challengeWindow();
  const target = before === 12 ? 13 : 12;

  // 1. The proposal and its preimage.
  const proposal = api.tx.protocolParameters.setParameter({ Protocol: { ChallengeWindow: [null, target] } });
  const { events: noted } = await signAndWait(api, api.tx.preimage.notePreimage(proposal.method.toHex()), alice);
  findEvent(noted, 'preimage', 'Noted');

  // 2. Submit on the track (its origin), enact one block after approval.
  const submit = api.tx.referenda.submit(
    { Origins: 'ProtocolParameters' },
    { Lookup: { hash: proposal.method.hash, len: proposal.method.encodedLength } },
    { After: 1 },
  );
  const { events: submitted } = await signAndWait(api, submit, alice);
  const submittedEvent = findEvent(submitted, 'referenda', 'Submitted');
  const index = submittedEvent.data[0].toNumber();
  assert.equal(submittedEvent.data[1].toNumber(), 1, 'track 1 is protocol-parameters');

  // 3. The decision deposit.
  await signAndWait(api, api.tx.referenda.placeDecisionDeposit(index), alice);

  // 4. Conviction votes from three accounts.
  const votes = [
    [bob, 'Locked1x', 300_000n],
    [charlie, 'Locked2x', 200_000n],
    [dave, 'None', 300_000n],
  ];
  for (const [who, conviction, amount] of votes) {
    const vote = { Standard: { vote: { aye: true, conviction }, balance: amount * UNIT } };
    const { events } = await signAndWait(api, api.tx.convictionVoting.vote(index, vote), who);
    findEvent(events, 'convictionVoting', 'Voted');
  }
  const tally = (await api.query.referenda.referendumInfoFor(index)).unwrap().asOngoing.tally;
  assert.equal(tally.ayes.toBigInt(), (300_000n * 1n + 200_000n * 2n) * UNIT + 300_000n * UNIT / 10n);

  // 5. Approval, then enactment by the scheduler.
  await nextEvent('referenda', 'Confirmed', (e) => e.data[0].toNumber() === index);
  await nextEvent('parameters', 'Updated', (e) => e.data[0].isProtocol && e.data[0].asProtocol.isChallengeWindow);

  // 6. The new value is in chain state.
  assert.equal(await challengeWindow(), target);
  const info = await api.query.referenda.referendumInfoFor(index);
  assert.ok(info.unwrap().isApproved);
});

test('a value outside its bounds is refused with a clear error', { timeout: 120_000 }, async () => {
  const { alice } = accounts;
  const before = await challengeWindow();
  const tooShort = api.tx.protocolParameters.setParameter({ Protocol: { ChallengeWindow: [null, 1] } });
  await assert.rejects(signAndWait(api, api.tx.sudo.sudo(tooShort), alice).then(({ events }) => {
    // sudo reports the inner call's result in an event.
    const result = findEvent(events, 'sudo', 'Sudid').data[0];
    if (result.isErr) {
      const meta = api.registry.findMetaError(result.asErr.asModule);
      throw new Error(`${meta.section}.${meta.name}`);
    }
  }), /protocolParameters\.BelowMinimum/);
  assert.equal(await challengeWindow(), before);
});
