// Providers that withhold their trace are convicted all the same (lib/fraud.js has the whole
// scenario; docs/protocol.md, "Descent"). B's watcher cannot read the faulty result's trace —
// the provider's registered endpoint refuses connections — so it challenges the output element
// farthest from its own run and, at each step, names the opened operand farthest from its own
// run, until the provider's own answer is ruled outside the bound.

import { test } from 'node:test';
import { fraudScenario } from '../lib/fraud.js';

const base = Number(process.env.ARBITER_FRAUD_PORT_BASE || 21000);

// The last layer's output projection: a short descent (the rounds for faults deeper in the
// model are in docs/benchmarks.md, "Descent").
const FAULT = 152;

test('a faulty provider whose endpoint is unreachable is descended to its fault and slashed', { timeout: 1_200_000 }, async (t) => {
  await fraudScenario(t, {
    faultArgs: ['--provider-fault', String(FAULT)],
    withheld: true,
    ports: { p2pA: base + 37, p2pB: base + 38, rpcA: base + 48, rpcB: base + 49 },
    text: 'A provider that serves nothing is descended.',
    expected: () => ({ reason: 'OutsideBound', honestTraceRoot: false, descentTo: FAULT }),
  });
});

test('an operator that commits a wrong output and never answers is slashed', { timeout: 900_000 }, async (t) => {
  await fraudScenario(t, {
    faultArgs: [],
    clientOperator: true,
    ports: { p2pA: base + 39, p2pB: base + 40, rpcA: base + 50, rpcB: base + 51 },
    text: 'Silence loses the dispute.',
    expected: () => ({ reason: 'NoResponse', honestTraceRoot: null }),
  });
});
