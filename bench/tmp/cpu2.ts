import { phase, throughput, postgresUrl } from '../e2e.js';
const url = process.env.DB === 'pglite' ? undefined : (await postgresUrl()) ?? undefined;
const total = url ? 20000 : 5000;
const r = await phase(url, `cpu`, async (conn, server) => {
  await throughput(conn, 1000, 4, false);
  const c0 = server.cpuMs();
  const t = await throughput(conn, total, 4, false);
  return { tps: Math.round(t), cpuUs: Math.round(((server.cpuMs() - c0) * 1000) / total) };
});
console.log(JSON.stringify(r));
