// The page's connection to a node, its accounts and how it signs: the dev accounts (//Alice …)
// on a development chain, and the polkadot.js browser extension's accounts when it is installed.

import { createContext, useCallback, useContext, useEffect, useState } from 'react';
import { connect, devAccounts, signAndWait } from '@arbiter/client';

export const ChainContext = createContext(null);

/** The node the page talks to: `?rpc=` in the address, else a local node. */
export function endpoint() {
  return new URLSearchParams(window.location.search).get('rpc') || 'ws://127.0.0.1:9944';
}


/** Connects once; returns { api, chain, accounts, error }. */
export function useConnection(url) {
  const [state, setState] = useState({ api: null, chain: null, accounts: [], error: null });
  useEffect(() => {
    let api;
    let cancelled = false;
    (async () => {
      try {
        api = await connect(url, { timeoutMs: 60_000 });
        const chain = (await api.rpc.system.chain()).toString();
        const accounts = [];
        // The dev accounts on development and local chains (their keys are public knowledge).
        const type = await api.rpc.system.chainType();
        if (type.isDevelopment || type.isLocal) {
          for (const [name, pair] of Object.entries(await devAccounts())) {
            accounts.push({ key: `dev:${pair.address}`, name: name[0].toUpperCase() + name.slice(1), address: pair.address, pair });
          }
        }
        accounts.push(...(await extensionAccounts()));
        if (!cancelled) setState({ api, chain, accounts, error: null });
      } catch (e) {
        if (!cancelled) setState((s) => ({ ...s, error: e.message }));
      }
    })();
    return () => {
      cancelled = true;
      api?.disconnect();
    };
  }, [url]);
  return state;
}

/** Accounts of the polkadot.js extension (none when it is not installed or refuses). */
async function extensionAccounts() {
  if (!window.injectedWeb3 || Object.keys(window.injectedWeb3).length === 0) return [];
  const { web3Accounts, web3Enable, web3FromAddress } = await import('@polkadot/extension-dapp');
  const extensions = await web3Enable('Arbiter');
  if (extensions.length === 0) return [];
  return (await web3Accounts()).map((a) => ({
    key: `${a.meta.source}:${a.address}`,
    name: `${a.meta.name ?? a.address.slice(0, 8)} (${a.meta.source})`,
    address: a.address,
    injected: () => web3FromAddress(a.address),
  }));
}

/** The page's chain context: api, chain name, accounts and the selected account. */
export function useChain() {
  return useContext(ChainContext);
}

/**
 * Sends transactions as the selected account. `send(tx)` resolves with signAndWait's result and
 * keeps `status` ('' | 'signing' | 'in block: 0x…') and `error` (the pallet's error name and its
 * documentation, as describeDispatchError gives it) for the page to show.
 */
export function useTx() {
  const { api, account } = useChain();
  const [status, setStatus] = useState('');
  const [error, setError] = useState('');
  const send = useCallback(async (tx) => {
    setError('');
    if (!account) {
      setError('choose an account first');
      return null;
    }
    setStatus('signing');
    try {
      const options = {};
      let signer = account.pair;
      if (!signer) {
        signer = account.address;
        options.injectedSigner = (await account.injected()).signer;
      }
      const result = await signAndWait(api, tx, signer, options);
      setStatus(`in block ${result.blockHash.toHex()}`);
      return result;
    } catch (e) {
      setStatus('');
      setError(e.message);
      return null;
    }
  }, [api, account]);
  return { send, status, error, busy: status === 'signing' };
}

/** Re-runs `read()` on every new block (and when `deps` change); returns its latest value. */
export function useEveryBlock(read, deps) {
  const { api } = useChain();
  const [value, setValue] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => {
    let unsub = () => {};
    let live = true;
    const run = () =>
      read(api)
        .then((v) => live && setValue(v))
        .catch((e) => live && setError(e.message));
    run();
    api.rpc.chain.subscribeNewHeads(() => run()).then((u) => {
      if (live) unsub = u;
      else u();
    });
    return () => {
      live = false;
      unsub();
    };
  }, [api, ...deps]);
  return [value, error];
}
