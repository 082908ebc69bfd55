import { phase, throughput, postgresUrl } from '../e2e.js';
import { rawTasksPerSecond } from '../runtime.js';
const runs = Number(process.env.RUNS ?? 2);
const raw = await rawTasksPerSecond(2000);
console.log('raw', raw.toFixed(0));
const url = await postgresUrl();
for (let i = 0; i < runs; i++) {
  const r = await phase(url ?? undefined, `pg-cpu-${i}`, async (conn, server) => {
    await throughput(conn, 1000, 4, false);
    const c0 = server.cpuMs();
    const t = await throughput(conn, 20000, 4, false);
    return { tps: Math.round(t), cpuUs: Math.round(((server.cpuMs() - c0) * 1000) / 20000) };
  });
  console.log(JSON.stringify(r));
}
