// Compiled (never run) by `npm run check-types`: the declarations in index.d.ts describe what the
// guides do with the library (tsc --strict fails on a wrong name or type).
import {
  connect, cosineSimilarity, decodeOutput, devAccounts, fetchTokenizer, protocolParameters, signAndWait,
  submitText, taskStage, waitFor,
} from '@arbiter/client';

export async function usage(): Promise<number> {
  const api = await connect('ws://127.0.0.1:9944', { timeoutMs: 10_000 });
  const { bob } = await devAccounts();
  const tokenizer = await fetchTokenizer(api, 0);
  const ids: number[] = tokenizer.encode('A man is eating food.');
  const { task, fee } = await submitText(api, tokenizer, 'A man is eating food.', 10n ** 13n, bob);
  const bigFee: bigint = fee;
  const record = await waitFor(async () => (await api.call.taskRegistryApi.task(task)).toJSON(), { what: 'the task' });
  const stage = taskStage(record).name;
  const parameters = await protocolParameters(api);
  const auditRate: bigint | undefined = parameters.find((p) => p.name === 'AuditRate')?.value;
  const embedding = decodeOutput('0x0000803f');
  await signAndWait(api, api.tx.system.remark('0x00'), bob.address, { injectedSigner: undefined });
  return cosineSimilarity(embedding, embedding) + ids.length + Number(bigFee) + stage.length + Number(auditRate ?? 0n);
}
