// The app's frame: the node it talks to, the chain's finalized head, the signing account, and
// one page per role (the address's #fragment picks the page).

import { useEffect, useMemo, useState } from 'react';
import { ChainContext, endpoint, useConnection } from './chain.js';
import { SubmitPage } from './pages/Submit.jsx';
import { ProviderPage } from './pages/Provider.jsx';
import { ChallengesPage } from './pages/Challenges.jsx';
import { GovernancePage } from './pages/Governance.jsx';
import { NetworkPage } from './pages/Network.jsx';

const PAGES = [
  { id: 'submit', title: 'Submit', page: SubmitPage },
  { id: 'provider', title: 'Provider', page: ProviderPage },
  { id: 'challenges', title: 'Challenges', page: ChallengesPage },
  { id: 'governance', title: 'Governance', page: GovernancePage },
  { id: 'network', title: 'Network', page: NetworkPage },
];

function usePageId() {
  const read = () => window.location.hash.replace(/^#\/?/, '') || 'submit';
  const [id, setId] = useState(read);
  useEffect(() => {
    const on = () => setId(read());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return id;
}

export function App() {
  const url = endpoint();
  const { api, chain, accounts, error } = useConnection(url);
  // The chosen account by key (`dev:<address>` or `<extension>:<address>`: one address may be both).
  const [key, setKey] = useState(() => localStorage.getItem('arbiter.account') || '');
  const pageId = usePageId();
  const account = accounts.find((a) => a.key === key) ?? null;
  const context = useMemo(() => ({ api, chain, accounts, account }), [api, chain, accounts, account]);
  const choose = (k) => {
    setKey(k);
    localStorage.setItem('arbiter.account', k);
  };
  const Page = (PAGES.find((p) => p.id === pageId) ?? PAGES[0]).page;

  return (
    <div className="app">
      <header>
        <h1>Arbiter</h1>
        <nav>
          {PAGES.map((p) => (
            <a key={p.id} href={`#/${p.id}`} className={p.id === pageId ? 'active' : ''} data-testid={`nav-${p.id}`}>
              {p.title}
            </a>
          ))}
        </nav>
        <div className="connection">
          <span data-testid="endpoint">{url}</span>
          {chain && <span data-testid="chain"> · {chain}</span>}
          {api && (
            <select data-testid="account" value={account ? key : ''} onChange={(e) => choose(e.target.value)}>
              <option value="">account…</option>
              {accounts.map((a) => (
                <option key={a.key} value={a.key}>
                  {a.name} {a.address.slice(0, 8)}…
                </option>
              ))}
            </select>
          )}
        </div>
      </header>
      {error && <p className="error" data-testid="connection-error">{error}</p>}
      {!api && !error && <p data-testid="connecting">connecting to {url}…</p>}
      {api && (
        <ChainContext.Provider value={context}>
          <main>
            <Page />
          </main>
        </ChainContext.Provider>
      )}
    </div>
  );
}
