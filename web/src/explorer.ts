/**
 * The GraphQL explorer the server shows at /graphql to a browser (GraphiQL, bundled here: no CDN).
 * Queries and mutations go over HTTP with the headers of its Headers tab, subscriptions over
 * graphql-ws; both start with the API key the dashboard keeps (localStorage), if there is one.
 * React is GraphiQL's own: the dashboard itself is Preact, and nothing is shared with it.
 */
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import 'graphiql/graphiql.css';
import { createElement } from 'react';
import { createRoot } from 'react-dom/client';

const KEY_STORAGE = 'spindle.apiKey'; // as web/src/api/client.ts

function storedKey(): string {
  try {
    return localStorage.getItem(KEY_STORAGE) ?? '';
  } catch {
    return '';
  }
}

// This page is served at the GraphQL endpoint itself.
const url = new URL(location.pathname, location.href).href;
const key = storedKey();
const auth = key ? { Authorization: `Bearer ${key}` } : {};

const fetcher = createGraphiQLFetcher({
  url,
  subscriptionUrl: url.replace(/^http/, 'ws'),
  wsConnectionParams: key ? { authorization: `Bearer ${key}` } : {},
});

const DEFAULT_QUERY = `# Spindle's GraphQL API. Ctrl-Enter runs, Ctrl-Space completes,
# the Docs pane lists every field. An API key goes in Headers:
# {"Authorization": "Bearer spd_…"}

query Overview {
  me { tenant { name } role }
  agents { name latestVersion }
  tasks(first: 5) {
    edges { node { id status agent { name } exitCode } }
  }
}

# mutation Submit {
#   submitTask(input: { agent: "hello", args: ["hi"] }) { id }
# }
# subscription Events { taskEvents { taskId status } }
`;

createRoot(document.getElementById('explorer')!).render(
  createElement(GraphiQL, {
    fetcher,
    defaultQuery: DEFAULT_QUERY,
    defaultHeaders: JSON.stringify(auth, null, 2),
    shouldPersistHeaders: true,
    isHeadersEditorEnabled: true,
  }),
);
