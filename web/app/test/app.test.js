// The web app in headless Chromium (Debian's `chromium`, driven by playwright-core) against the
// test dev node (ARBITER_WS; scripts/test.sh starts it and serves the app's build with `vite
// preview`). As the dev accounts, through the pages only: Charlie submits two texts and the page
// shows both tasks final, with the embeddings `arbiter-infer` computes and their similarity, then
// asks SmolLM2 a question and reads `arbiter-infer generate`'s answer; Bob
// registers as a provider, is refused a withdrawal with the pallet's error and its documentation,
// pauses, resumes and unbonds; Dave proposes a parameter change and votes on it with conviction.
// Every page is opened and none logs a console error. A failing test leaves a screenshot in
// ARBITER_WEB_SHOTS (default: a temporary folder, printed).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { connect, cosineSimilarity, devAccounts, waitFor } from '@arbiter/client';

const WS = process.env.ARBITER_WS || 'ws://127.0.0.1:9944';
const INFER = process.env.ARBITER_INFER;
const MODEL_DIR = process.env.ARBITER_MINILM_DIR;
const PORT = Number(process.env.ARBITER_WEB_PORT || 18080);
const SHOTS = process.env.ARBITER_WEB_SHOTS || mkdtempSync(join(tmpdir(), 'arbiter-web-'));
const APP = join(dirname(fileURLToPath(import.meta.url)), '..');
const UNIT = 10n ** 12n;

let server;
let browser;
let api;
let accounts;
const consoleErrors = [];

before(async () => {
  assert.ok(INFER && MODEL_DIR, 'ARBITER_INFER and ARBITER_MINILM_DIR are set by scripts/test.sh');
  mkdirSync(SHOTS, { recursive: true });
  const vite = join(dirname(createRequire(import.meta.url).resolve('vite/package.json')), 'bin/vite.js');
  server = spawn(process.execPath, [vite, 'preview', '--port', String(PORT), '--strictPort'], {
    cwd: APP, stdio: ['ignore', 'pipe', 'pipe'],
  });
  await waitFor(async () => (await fetch(`http://127.0.0.1:${PORT}/`).catch(() => null))?.ok, { timeoutMs: 30_000, everyMs: 300, what: 'vite preview' });
  browser = await chromium.launch({
    executablePath: process.env.ARBITER_CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  api = await connect(WS, { timeoutMs: 60_000 });
  accounts = await devAccounts();
});

after(async () => {
  await browser?.close();
  server?.kill();
  await api?.disconnect();
});

/**
 * Opens the app at `#/page` as `account` (a dev account's name, or none) and runs `body(tab)`;
 * console errors are collected; on failure a screenshot and the page's text are saved.
 */
async function onPage(name, page, account, body) {
  const tab = await browser.newPage();
  tab.on('console', (m) => m.type() === 'error' && consoleErrors.push(`${page}: ${m.text()}`));
  tab.on('pageerror', (e) => consoleErrors.push(`${page}: ${e.message}`));
  try {
    await tab.goto(`http://127.0.0.1:${PORT}/?rpc=${encodeURIComponent(WS)}#/${page}`);
    await tab.locator('[data-testid=account]').waitFor({ timeout: 60_000 });
    if (account) await tab.selectOption('[data-testid=account]', `dev:${accounts[account].address}`);
    await body(tab);
  } catch (e) {
    const shot = join(SHOTS, `${name}.png`);
    await tab.screenshot({ path: shot, fullPage: true }).catch(() => {});
    e.message += `\nscreenshot: ${shot}\npage text:\n${(await tab.innerText('body').catch(() => '')).slice(0, 2000)}`;
    throw e;
  } finally {
    await tab.close();
  }
}

const embed = (text) => JSON.parse(execFileSync(INFER, ['embed', '--model', MODEL_DIR, '--text', text, '--json'], { encoding: 'utf8' })).embeddings[0];

test('a submitter sends two texts from the page and sees both final, with the engine\'s embeddings and their similarity', { timeout: 420_000 }, async () => {
  const texts = ['A cat sits on the mat.', 'A kitten rests on a rug.'];
  await onPage('submit', 'submit', 'charlie', async (tab) => {
    await tab.getByText('tokenizer checked against the model\'s hash').waitFor({ timeout: 60_000 });
    await tab.fill('[data-testid=texts]', texts.join('\n'));
    await tab.getByTestId('token-counts').waitFor();
    await tab.click('[data-testid=submit]');
    await tab.getByTestId('tx-status').filter({ hasText: 'in block' }).waitFor({ timeout: 60_000 });
    const stages = tab.locator('[data-testid^=stage-]');
    assert.equal(await stages.count(), 2, 'one task a text');
    // One submission's tasks are listed in the order of its texts.
    const ids = (await stages.evaluateAll((els) => els.map((e) => e.dataset.testid.slice('stage-'.length)))).map(Number);
    for (const id of ids) {
      await tab.locator(`[data-testid=stage-${id}][data-stage=Finalized]`).waitFor({ timeout: 360_000 });
      await tab.getByTestId(`paid-${id}`).filter({ hasText: 'provider' }).waitFor();
    }
    const expected = texts.map(embed);
    for (const [k, id] of ids.entries()) {
      const shown = JSON.parse(await tab.getByTestId(`embedding-${id}`).getAttribute('data-values'));
      assert.equal(shown.length, 384);
      const worst = Math.max(...shown.map((v, i) => Math.abs(v - expected[k][i])));
      assert.ok(worst < 1e-5, `task ${id}: the page's embedding is the engine's (max difference ${worst})`);
      // The page reads what the chain holds.
      const record = (await api.call.taskRegistryApi.task(id)).unwrap();
      assert.ok(record.status.isFinalized);
    }
    const similarity = await tab.getByTestId(`similarity-${ids[0]}-${ids[1]}`).innerText();
    assert.equal(similarity, cosineSimilarity(expected[0], expected[1]).toFixed(4));
  });
});

test('a submitter asks the generation model from the page and reads the engine\'s answer', { timeout: 300_000 }, async () => {
  const GGUF = process.env.ARBITER_SMOLLM2_GGUF;
  assert.ok(GGUF, 'ARBITER_SMOLLM2_GGUF is set by scripts/test.sh');
  const prompt = 'What is the capital of France?';
  const expected = JSON.parse(execFileSync(INFER, ['generate', '--model', GGUF, '--prompt', prompt, '--chat', '--max-new-tokens', '8', '--json'], { encoding: 'utf8' }));
  await onPage('generate', 'submit', 'charlie', async (tab) => {
    await tab.selectOption('[data-testid=model]', '1');
    await tab.getByText('tokenizer checked against the model\'s hash').waitFor({ timeout: 60_000 });
    await tab.fill('[data-testid=max-new-tokens]', '8');
    await tab.fill('[data-testid=texts]', prompt);
    await tab.click('[data-testid=submit]');
    const text = tab.locator('[data-testid^=text-]');
    await text.waitFor({ timeout: 240_000 });
    assert.deepEqual(JSON.parse(await text.getAttribute('data-tokens')), expected.tokens, 'the committed tokens are the engine\'s');
    assert.equal(await text.innerText(), expected.text);
  });
});

test('a provider registers from the page, is refused a withdrawal with the pallet\'s words, pauses, resumes and unbonds', { timeout: 300_000 }, async () => {
  const { bob } = accounts;
  assert.ok((await api.query.computeStaking.providers(bob.address)).isNone, 'Bob is no provider yet');
  await onPage('provider', 'provider', 'bob', async (tab) => {
    await tab.getByTestId('provider-status').filter({ hasText: 'Not a provider yet' }).waitFor();
    await tab.fill('[data-testid=stake]', '1500');
    // A price no submitter of the suite offers: Bob's provider runs no node and takes no task.
    await tab.fill('[data-testid=offer-price]', '900');
    await tab.check('[data-testid=offer-model-0]');
    await tab.click('[data-testid=register]');
    await tab.getByTestId('provider-status').filter({ hasText: 'Active' }).waitFor({ timeout: 60_000 });
    const info = (await api.query.computeStaking.providers(bob.address)).unwrap();
    assert.equal(info.active.toBigInt(), 1_500n * UNIT);
    assert.equal(info.offer.price.toBigInt(), 900n * UNIT);
    assert.deepEqual(info.offer.models.toJSON(), [0]);

    // Nothing is unbonding: the chain refuses, and the page says why in the pallet's words.
    await tab.click('[data-testid=withdraw]');
    const error = await tab.getByTestId('error').innerText({ timeout: 60_000 });
    assert.match(error, /^computeStaking\.NothingToWithdraw: \S/, error);

    await tab.click('[data-testid=pause]');
    await tab.getByTestId('provider-status').filter({ hasText: 'Paused' }).waitFor({ timeout: 60_000 });
    await tab.click('[data-testid=resume]');
    await tab.getByTestId('provider-status').filter({ hasText: 'Active' }).waitFor({ timeout: 60_000 });
    await tab.fill('[data-testid=amount]', '200');
    await tab.click('[data-testid=unbond]');
    await tab.getByTestId('active-stake').filter({ hasText: '1,300 ARBT' }).waitFor({ timeout: 60_000 });
    const after = (await api.query.computeStaking.providers(bob.address)).unwrap();
    assert.equal(after.active.toBigInt(), 1_300n * UNIT);
    assert.equal(after.unlocking[0].amount.toBigInt(), 200n * UNIT);
    assert.ok(after.status.isActive);
  });
});

test('a voter sees the parameters with their bounds, proposes a change and votes on it with conviction', { timeout: 300_000 }, async () => {
  const { dave } = accounts;
  const params = (await api.call.protocolParametersApi.parameters()).map((p) => [p.name.toUtf8(), p]);
  const auditRate = Object.fromEntries(params).AuditRate;
  await onPage('governance', 'governance', 'dave', async (tab) => {
    await tab.getByTestId('value-AuditRate').filter({ hasText: `${Number(auditRate.value.toBigInt()) / 1e7} %` }).waitFor({ timeout: 60_000 });
    assert.equal(await tab.locator('[data-testid^=parameter-]').count(), params.length, 'every parameter');
    const before = new Set((await api.query.referenda.referendumInfoFor.keys()).map((k) => k.args[0].toNumber()));
    await tab.selectOption('[data-testid=propose-parameter]', 'MaxReassignments');
    await tab.fill('[data-testid=propose-value]', '4');
    await tab.click('[data-testid=propose]');
    const [index] = await waitFor(async () => {
      const now = (await api.query.referenda.referendumInfoFor.keys()).map((k) => k.args[0].toNumber());
      const created = now.filter((i) => !before.has(i));
      return created.length > 0 ? created : null;
    }, { timeoutMs: 60_000, what: 'the new referendum' });
    await waitFor(async () => (await api.query.referenda.referendumInfoFor(index)).unwrap().asOngoing.decisionDeposit.isSome,
      { timeoutMs: 60_000, what: 'the decision deposit' });
    const card = tab.getByTestId(`referendum-${index}`);
    await card.waitFor({ timeout: 60_000 });
    assert.match(await card.innerText(), /setParameter/);
    await tab.fill(`[data-testid=vote-amount-${index}]`, '100');
    await tab.selectOption(`[data-testid=vote-conviction-${index}]`, 'Locked2x');
    await tab.click(`[data-testid=vote-aye-${index}]`);
    await tab.getByTestId(`my-vote-${index}`).filter({ hasText: 'aye, 100 ARBT, Locked2x' }).waitFor({ timeout: 60_000 });
    const voting = await api.query.convictionVoting.votingFor(dave.address, 1);
    const vote = voting.asCasting.votes.find(([i]) => i.toNumber() === index)[1].asStandard;
    assert.ok(vote.vote.isAye);
    assert.equal(vote.vote.conviction.toString(), 'Locked2x');
    assert.equal(vote.balance.toBigInt(), 100n * UNIT);
  });
});

test('an account of an injected extension (the polkadot.js extension\'s interface) signs from the page', { timeout: 180_000 }, async () => {
  // The interface `@polkadot/extension-dapp` reads (`window.injectedWeb3`), backed by Ferdie's key
  // in this process: the page's path through web3Enable, web3Accounts and the injected signer is
  // the one the real extension takes; its signature is made as the extension makes it (the
  // payload as `ExtrinsicPayload`, signed by the key).
  const { ferdie } = accounts;
  const tab = await browser.newPage();
  tab.on('console', (m) => m.type() === 'error' && consoleErrors.push(`injected: ${m.text()}`));
  tab.on('pageerror', (e) => consoleErrors.push(`injected: ${e.message}`));
  let signed = 0;
  await tab.exposeFunction('__arbiterTestSign', (payload) => {
    signed += 1;
    const { signature } = api.registry.createType('ExtrinsicPayload', payload, { version: payload.version }).sign(ferdie);
    return signature;
  });
  await tab.addInitScript((address) => {
    let id = 0;
    window.injectedWeb3 = {
      'arbiter-test': {
        version: '0.1.0',
        enable: async () => ({
          accounts: {
            get: async () => [{ address, name: 'Ferdie (injected)', type: 'sr25519' }],
            subscribe: (cb) => { cb([{ address, name: 'Ferdie (injected)', type: 'sr25519' }]); return () => {}; },
          },
          signer: {
            signPayload: async (payload) => ({ id: ++id, signature: await window.__arbiterTestSign(payload) }),
          },
        }),
      },
    };
  }, ferdie.address);
  try {
    await tab.goto(`http://127.0.0.1:${PORT}/?rpc=${encodeURIComponent(WS)}#/challenges`);
    const option = tab.locator('[data-testid=account] option', { hasText: 'Ferdie (injected) (arbiter-test)' });
    await option.waitFor({ state: 'attached', timeout: 60_000 });
    await tab.selectOption('[data-testid=account]', `arbiter-test:${ferdie.address}`);
    // Refused by the chain: signed, sent and included, so the injected signer did its work.
    await tab.fill('[data-testid=challenge-task]', '0');
    await tab.fill('[data-testid=challenge-node]', '0');
    const nonce = (await api.rpc.system.accountNextIndex(ferdie.address)).toNumber();
    await tab.click('[data-testid=challenge]');
    const error = await tab.getByTestId('error').innerText({ timeout: 60_000 });
    assert.match(error, /^challenges\.NotChallengeable: \S/, error);
    assert.equal(signed, 1, 'the page asked the extension to sign once');
    assert.equal((await api.rpc.system.accountNextIndex(ferdie.address)).toNumber(), nonce + 1, 'Ferdie\'s transaction is on chain');
  } catch (e) {
    const shot = join(SHOTS, 'injected.png');
    await tab.screenshot({ path: shot, fullPage: true }).catch(() => {});
    e.message += `\nscreenshot: ${shot}`;
    throw e;
  } finally {
    await tab.close();
  }
});

test('the network and challenges pages show the chain, and a challenge the chain refuses is explained', { timeout: 120_000 }, async () => {
  await onPage('network', 'network', null, async (tab) => {
    await tab.getByTestId('finalized').waitFor({ timeout: 60_000 });
    const finalized = Number((await tab.getByTestId('finalized').innerText()).split(' ')[0]);
    assert.ok(finalized > 0, 'a finalized head');
    assert.equal(await tab.locator('[data-testid=validators] li').count(), (await api.query.aura.authorities()).length);
    await tab.getByTestId('providers-of-0').filter({ hasText: 'providers' }).waitFor();
    assert.match(await tab.getByTestId('engine').innerText(), /all-minilm-l6-v2/);
  });
  await onPage('challenges', 'challenges', 'eve', async (tab) => {
    await tab.locator('[data-testid=disputes], [data-testid=no-disputes]').first().waitFor({ timeout: 60_000 });
    // Task 0 of the dev chain finalized long ago: its window is closed.
    await tab.fill('[data-testid=challenge-task]', '0');
    await tab.fill('[data-testid=challenge-node]', '0');
    await tab.click('[data-testid=challenge]');
    const error = await tab.getByTestId('error').innerText({ timeout: 60_000 });
    assert.match(error, /^challenges\.NotChallengeable: \S/, error);
  });
  await onPage('submit-no-account', 'submit', null, async (tab) => {
    await tab.getByTestId('model').waitFor();
  });
  assert.deepEqual(consoleErrors, [], 'no page logged a console error');
});
