import { render } from 'preact';
import { connection } from './api/client.js';
import { useStore } from './api/store.js';
import { Header } from './components/Header.js';
import { AgentPage } from './pages/Agent.js';
import { AgentsPage } from './pages/Agents.js';
import { OverviewPage } from './pages/Overview.js';
import { TaskPage } from './pages/Task.js';
import { TasksPage } from './pages/Tasks.js';
import { useRoute } from './router.js';
import './styles.css';

function App() {
  const route = useRoute();
  const [page = '', id] = route.path;
  let body;
  if (page === 'tasks' && id) body = <TaskPage key={id} id={id} />;
  else if (page === 'tasks') body = <TasksPage query={route.query} />;
  else if (page === 'agents' && id) body = <AgentPage key={id} name={id} />;
  else if (page === 'agents') body = <AgentsPage query={route.query} />;
  else body = <OverviewPage />;
  const conn = useStore(connection);
  // Data already on screen stops updating while the link is down (lostAt is cleared on reconnect): say so, and since when.
  const stale = conn.lostAt !== undefined;
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById('main')?.focus())}>
        Skip to content
      </a>
      <Header page={page} />
      {stale ? (
        <p class="stale-banner" role="alert">
          Connection lost at {new Date(conn.lostAt!).toLocaleTimeString()}: what you see is as of then and is not updating.{' '}
          {conn.state === 'offline' ? 'Press Reconnect above.' : 'Reconnecting…'}
        </p>
      ) : null}
      <main id="main" tabIndex={-1} data-stale={stale || undefined}>
        {body}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
