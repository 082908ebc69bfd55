// The one entry of react-dom the explorer uses (GraphiQL's React; the dashboard is Preact and has no React types).
declare module 'react-dom/client' {
  export function createRoot(container: Element): { render(node: unknown): void; unmount(): void };
}
