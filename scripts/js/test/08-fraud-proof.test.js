// A faulty provider is caught and slashed (lib/fraud.js has the whole scenario): node A runs
// with `--provider-fault 27`, which perturbs graph node 27 (layer 0's attention output) and
// everything computed from it — a consistent, wrong trace — and commits its output alone. B's
// watcher challenges an output element; A's answer fixes its trace root; B then walks A's rows
// against that root, finds node 27 and challenges its first element; A's own opening of it is
// ruled outside the bound, and the first dispute is dismissed.

import { test } from 'node:test';
import { fraudScenario } from '../lib/fraud.js';

const FAULT = 27;
const base = Number(process.env.ARBITER_FRAUD_PORT_BASE || 21000);

test('a watcher catches a faulty provider; the runtime slashes it; an honest provider finishes the task', { timeout: 600_000 }, async (t) => {
  await fraudScenario(t, {
    faultArgs: ['--provider-fault', String(FAULT)],
    ports: { p2pA: base + 33, p2pB: base + 34, rpcA: base + 44, rpcB: base + 45 },
    text: 'Fraud proofs settle one element.',
    expected: () => ({ element: [FAULT, 0, 0], reason: 'OutsideBound', honestTraceRoot: false, challenges: 2 }),
  });
});
