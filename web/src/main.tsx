import { render } from 'preact';
import { Header } from './components/Header.js';
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
  else if (page === 'agents') body = <AgentsPage query={route.query} />;
  else body = <OverviewPage />;
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById('main')?.focus())}>
        Skip to content
      </a>
      <Header page={page} />
      <main id="main" tabIndex={-1}>
        {body}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
