/** args, environ, clocks, random, process control and the socket stubs. */
import { Clock } from './clock.js';
import { E, ProcExit } from './errno.js';
import type { State, StringTable } from './state.js';

function sizes(s: State, t: StringTable, countPtr: number, sizePtr: number): number {
  s.mem.setU32(countPtr, t.count);
  s.mem.setU32(sizePtr, t.bytes.length);
  return E.SUCCESS;
}

function strings(s: State, t: StringTable, ptrs: number, buf: number): number {
  s.mem.check(ptrs, t.count * 4); // both regions checked before either is written
  s.mem.range(buf, t.bytes.length).set(t.bytes);
  for (let i = 0; i < t.count; i++) s.mem.setU32(ptrs + i * 4, (buf >>> 0) + t.offsets[i]!);
  return E.SUCCESS;
}

/** A socket call: preview 1 has no way to obtain a socket here, so any open fd is not one. */
function notSocket(s: State, fd: number): number {
  s.fds.get(fd);
  return E.NOTSOCK;
}

export const procCalls = {
  args_sizes_get: (s: State, countPtr: number, sizePtr: number) => sizes(s, s.argv(), countPtr, sizePtr),
  args_get: (s: State, argv: number, buf: number) => strings(s, s.argv(), argv, buf),
  environ_sizes_get: (s: State, countPtr: number, sizePtr: number) => sizes(s, s.environ(), countPtr, sizePtr),
  environ_get: (s: State, env: number, buf: number) => strings(s, s.environ(), env, buf),

  clock_res_get(s: State, id: number, resPtr: number): number {
    Clock.check(id);
    s.mem.setU64(resPtr, s.clock.resolution());
    return E.SUCCESS;
  },
  clock_time_get(s: State, id: number, _precision: bigint, timePtr: number): number {
    Clock.check(id);
    s.mem.setU64(timePtr, s.clock.read(id));
    return E.SUCCESS;
  },

  random_get(s: State, buf: number, len: number): number {
    s.random.fill(s.mem.range(buf, len));
    return E.SUCCESS;
  },

  proc_exit(_s: State, code: number): number {
    throw ProcExit.make(code >>> 0);
  },
  /** Signals would need a process model we do not have; the spec allows ENOSYS. */
  proc_raise: (_s: State, _sig: number) => E.NOSYS,
  /** One guest per thread: there is nobody to yield to. */
  sched_yield: (_s: State) => E.SUCCESS,

  sock_accept: (s: State, fd: number, _flags: number, _fdPtr: number) => notSocket(s, fd),
  sock_recv: (s: State, fd: number, _iovs: number, _n: number, _fl: number, _len: number, _ofl: number) => notSocket(s, fd),
  sock_send: (s: State, fd: number, _iovs: number, _n: number, _fl: number, _len: number) => notSocket(s, fd),
  sock_shutdown: (s: State, fd: number, _how: number) => notSocket(s, fd),
};
