// A provider that traces honestly but commits another output is caught and slashed
// (lib/fraud.js has the whole scenario): node A runs with `--provider-output-fault`, so its
// trace is the honest one and only the first output value is wrong. B's watcher compares A's
// committed output with its own and challenges the element that differs; A's own opening of it,
// which fixes the honest trace root, shows a final-node value that is not the committed one
// (`OutputMismatch`).

import { test } from 'node:test';
import { fraudScenario } from '../lib/fraud.js';

const base = Number(process.env.ARBITER_FRAUD_PORT_BASE || 21000);

test('a provider whose committed output is not its trace\'s final node is caught and slashed', { timeout: 600_000 }, async (t) => {
  await fraudScenario(t, {
    faultArgs: ['--provider-output-fault'],
    ports: { p2pA: base + 35, p2pB: base + 36, rpcA: base + 46, rpcB: base + 47 },
    text: 'The output is the trace\'s final node.',
    expected: (info) => ({ element: [info.nodes - 1, 0, 0], reason: 'OutputMismatch', honestTraceRoot: true }),
  });
});
