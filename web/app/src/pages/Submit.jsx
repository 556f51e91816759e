// The submitter's page: choose a model, type texts (tokenized here with the model's committed
// tokenizer), submit them in one signed call, and follow each task live until it is final; then
// the result: embeddings and the similarity between them, or a generation's text.

import { useEffect, useMemo, useRef, useState } from 'react';
import {
  chatPrompt, cosineSimilarity, decodeOutput, decodeTokens, fetchTokenizer, loadTokenizer, taskStage,
} from '@arbiter/client';
import { useChain, useEveryBlock, useTx } from '../chain.js';
import { arbt, parseArbt } from '../format.js';
import { ErrorLine, Status } from './common.jsx';

/** Approved models with their names and kinds. */
export async function readModels(api) {
  const entries = await api.query.taskRegistry.models.entries();
  return entries
    .map(([key, value]) => {
      const m = value.unwrap();
      return {
        id: key.args[0].toNumber(),
        name: new TextDecoder().decode(m.metadata.toU8a(true)) || `model ${key.args[0].toNumber()}`,
        generation: m.io.kind.isGeneration,
        maxTokens: m.io.maxInputTokens.toNumber(),
        approved: m.status.isApproved,
      };
    })
    .sort((a, b) => a.id - b.id);
}

export function SubmitPage() {
  const { api } = useChain();
  const [models] = useEveryBlock(readModels, []);
  const [modelId, setModelId] = useState(0);
  const model = models?.find((m) => m.id === Number(modelId));
  const [tokenizer, setTokenizer] = useState(null);
  const [tokenizerError, setTokenizerError] = useState('');
  const [texts, setTexts] = useState('');
  const [maxFee, setMaxFee] = useState('10');
  const [maxNewTokens, setMaxNewTokens] = useState('16');
  const [chat, setChat] = useState(true);
  const [tasks, setTasks] = useState([]);
  const [feeError, setFeeError] = useState('');
  const tx = useTx();

  // The model's committed tokenizer, from a node that serves the model (its blake2-256 is
  // checked against the registered tokenizer hash).
  useEffect(() => {
    setTokenizer(null);
    setTokenizerError('');
    if (!model) return;
    fetchTokenizer(api, model.id).then(setTokenizer, (e) => setTokenizerError(e.message));
  }, [api, model?.id]);

  const fromFile = async (file) => {
    try {
      setTokenizer(await loadTokenizer(api, model.id, new Uint8Array(await file.arrayBuffer())));
      setTokenizerError('');
    } catch (e) {
      setTokenizerError(e.message);
    }
  };

  const lines = texts.split('\n').map((t) => t.trim()).filter(Boolean);
  let preview = [];
  let inputError = '';
  try {
    preview = tokenizer ? lines.map((t) => tokenizer.encode(model.generation && chat ? chatPrompt(t) : t)) : [];
  } catch (e) {
    inputError = e.message;
  }

  const submit = async () => {
    let fee;
    try {
      fee = parseArbt(maxFee);
      setFeeError('');
    } catch (e) {
      setFeeError(e.message);
      return;
    }
    const calls = preview.map((ids) => model.generation
      ? api.tx.taskRegistry.submitGeneration(model.id, ids, Number(maxNewTokens), 'Greedy', fee)
      : api.tx.taskRegistry.submitTask(model.id, ids, fee));
    const result = await tx.send(calls.length === 1 ? calls[0] : api.tx.utility.batchAll(calls));
    if (!result) return;
    const submitted = result.events
      .filter(({ event }) => event.section === 'taskRegistry' && event.method === 'TaskSubmitted')
      .map(({ event }, k) => ({
        id: event.data[0].toNumber(),
        text: lines[k],
        generation: model.generation,
        tokenizer,
        txFee: result.fee / BigInt(calls.length),
      }));
    setTasks((t) => [...submitted, ...t]);
  };

  return (
    <section>
      <h2>Submit a task</h2>
      <label>
        Model{' '}
        <select data-testid="model" value={modelId} onChange={(e) => setModelId(e.target.value)}>
          {(models ?? []).filter((m) => m.approved).map((m) => (
            <option key={m.id} value={m.id}>
              {m.id}: {m.name} ({m.generation ? 'generation' : 'embedding'}, ≤ {m.maxTokens} tokens)
            </option>
          ))}
        </select>
      </label>
      <p className="muted" data-testid="tokenizer-state">
        {tokenizer ? `tokenizer checked against the model's hash (vocabulary ${tokenizer.vocabulary})` : tokenizerError || 'loading the tokenizer…'}
      </p>
      {tokenizerError && (
        <label>
          tokenizer.json <input type="file" accept=".json" onChange={(e) => e.target.files[0] && fromFile(e.target.files[0])} />
        </label>
      )}
      <label className="block">
        {model?.generation ? 'Prompts, one a line' : 'Texts, one a line (each is a task; two or more give their similarities)'}
        <textarea data-testid="texts" rows={4} value={texts} onChange={(e) => setTexts(e.target.value)} />
      </label>
      {preview.length > 0 && (
        <p className="muted" data-testid="token-counts">{preview.map((ids) => ids.length).join(', ')} tokens</p>
      )}
      <ErrorLine text={inputError} />
      {model?.generation && (
        <p>
          <label>New tokens at most <input data-testid="max-new-tokens" size={4} value={maxNewTokens} onChange={(e) => setMaxNewTokens(e.target.value)} /></label>{' '}
          <label><input type="checkbox" checked={chat} onChange={(e) => setChat(e.target.checked)} /> chat template</label>
        </p>
      )}
      <p>
        <label>Most I pay a task <input data-testid="max-fee" size={6} value={maxFee} onChange={(e) => setMaxFee(e.target.value)} /> ARBT</label>{' '}
        <button data-testid="submit" disabled={!tokenizer || preview.length === 0 || tx.busy || !!inputError} onClick={submit}>Submit</button>
      </p>
      <ErrorLine text={feeError} />
      <Status tx={tx} />
      {tasks.length > 0 && <Tasks tasks={tasks} />}
    </section>
  );
}

/** The submitted tasks, read on every block, with their payouts once final. */
function Tasks({ tasks }) {
  const ids = tasks.map((t) => t.id);
  // TaskFinalized events of these tasks, as blocks bring them.
  const payouts = useRef({});
  const [records] = useEveryBlock(async (api) => {
    const out = {};
    for (const id of ids) {
      const t = (await api.call.taskRegistryApi.task(id)).unwrapOr(null);
      out[id] = t && { stage: taskStage(t.status), status: t.status };
    }
    const events = await api.query.system.events();
    for (const { event } of events) {
      if (event.section === 'taskRegistry' && event.method === 'TaskFinalized' && ids.includes(event.data[0].toNumber())) {
        payouts.current[event.data[0].toNumber()] = { paid: event.data[2].toBigInt(), fee: event.data[3].toBigInt(), refunded: event.data[4].toBigInt() };
      }
    }
    return out;
  }, [ids.join(',')]);
  const outputs = useMemo(() => {
    const out = {};
    for (const t of tasks) {
      const s = records?.[t.id]?.status;
      const output = s && (s.isFinalized ? s.asFinalized.output : s.isCommitted ? s.asCommitted.output : s.isDisputed ? s.asDisputed.output : null);
      if (output) out[t.id] = t.generation ? decodeTokens(output) : Array.from(decodeOutput(output));
    }
    return out;
  }, [records, tasks]);
  const embedded = tasks.filter((t) => !t.generation && outputs[t.id]);

  return (
    <>
      <h3>Your tasks</h3>
      <table>
        <thead><tr><th>task</th><th>text</th><th>stage</th><th>result</th><th>paid</th></tr></thead>
        <tbody>
          {tasks.map((t) => {
            const r = records?.[t.id];
            const p = payouts.current[t.id];
            return (
              <tr key={t.id} data-testid={`task-${t.id}`}>
                <td>{t.id}</td>
                <td>{t.text}</td>
                <td data-testid={`stage-${t.id}`} data-stage={r?.stage.name ?? ''}>{r ? r.stage.text : '…'}</td>
                <td>{outputs[t.id] && <Result task={t} output={outputs[t.id]} />}</td>
                <td data-testid={`paid-${t.id}`}>
                  {p ? `${arbt(p.paid + p.fee)} (provider ${arbt(p.paid)}, protocol ${arbt(p.fee)}; ${arbt(p.refunded)} back)` : ''}
                  <br /><span className="muted">transaction {arbt(t.txFee)}</span>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {embedded.length >= 2 && (
        <>
          <h3>Cosine similarity</h3>
          <table data-testid="similarity">
            <thead><tr><th></th>{embedded.map((t) => <th key={t.id}>{t.id}</th>)}</tr></thead>
            <tbody>
              {embedded.map((a) => (
                <tr key={a.id}>
                  <th>{a.id}: {a.text}</th>
                  {embedded.map((b) => (
                    <td key={b.id} data-testid={`similarity-${a.id}-${b.id}`}>
                      {cosineSimilarity(outputs[a.id], outputs[b.id]).toFixed(4)}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </>
  );
}

function Result({ task, output }) {
  if (task.generation) {
    return <span data-testid={`text-${task.id}`} data-tokens={JSON.stringify(output)}>{task.tokenizer.decode(output)}</span>;
  }
  const norm = Math.sqrt(output.reduce((s, v) => s + v * v, 0));
  return (
    <details>
      <summary>{output.length} values, norm {norm.toFixed(4)}</summary>
      <code data-testid={`embedding-${task.id}`} data-values={JSON.stringify(output)}>
        [{output.slice(0, 6).map((v) => v.toFixed(5)).join(', ')}, …]
      </code>
    </details>
  );
}
