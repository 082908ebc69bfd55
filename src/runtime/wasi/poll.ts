/**
 * poll_oneoff. Clock subscriptions (relative or absolute) block the thread with Atomics.wait in
 * real mode and advance the virtual clock in deterministic mode. fd subscriptions are always
 * ready: stdin is a buffer and stdout/stderr/files never block, so a poll that has one returns
 * at once (with any clock subscriptions already due).
 */
import { EVENTTYPE, FILETYPE, RIGHTS, SUBCLOCK_ABSTIME } from './abi.js';
import { E } from './errno.js';
import type { State } from './state.js';

/** subscription: userdata u64@0, tag u8@8, then the union @16 (clock: id u32@16, timeout u64@24, precision u64@32, flags u16@40). */
const SUB = 48;
/** event: userdata u64@0, error u16@8, type u8@10, fd_readwrite {nbytes u64@16, flags u16@24}. */
const EVENT = 32;

interface Ready {
  userdata: bigint;
  error: number;
  type: number;
  nbytes: bigint;
}

export function poll_oneoff(s: State, inPtr: number, outPtr: number, nsubs: number, neventsPtr: number): number {
  nsubs >>>= 0;
  if (nsubs === 0) throw E.INVAL;
  s.mem.check(inPtr, nsubs * SUB);
  s.mem.check(outPtr, nsubs * EVENT);
  s.mem.check(neventsPtr, 4);
  const dv = s.mem.dv();
  const ready: Ready[] = [];
  const clocks: { userdata: bigint; rel: bigint }[] = [];
  for (let i = 0; i < nsubs; i++) {
    const p = (inPtr >>> 0) + i * SUB;
    const userdata = dv.getBigUint64(p, true);
    const tag = dv.getUint8(p + 8);
    if (tag === EVENTTYPE.CLOCK) {
      const id = dv.getUint32(p + 16, true);
      if (id > 3) {
        ready.push({ userdata, error: E.INVAL, type: tag, nbytes: 0n });
        continue;
      }
      const timeout = dv.getBigUint64(p + 24, true);
      const abs = (dv.getUint16(p + 40, true) & SUBCLOCK_ABSTIME) !== 0;
      clocks.push({ userdata, rel: abs ? timeout - s.clock.peek(id) : timeout });
    } else if (tag === EVENTTYPE.FD_READ || tag === EVENTTYPE.FD_WRITE) {
      ready.push(fdEvent(s, userdata, tag, dv.getUint32(p + 16, true)));
    } else {
      throw E.INVAL;
    }
  }
  if (ready.length === 0) {
    let min = clocks[0]!.rel;
    for (const c of clocks) if (c.rel < min) min = c.rel;
    s.clock.wait(min);
    for (const c of clocks) if (c.rel <= min) ready.push({ userdata: c.userdata, error: 0, type: EVENTTYPE.CLOCK, nbytes: 0n });
  } else {
    for (const c of clocks) if (c.rel <= 0n) ready.push({ userdata: c.userdata, error: 0, type: EVENTTYPE.CLOCK, nbytes: 0n });
  }
  const out = outPtr >>> 0;
  s.mem.range(out, ready.length * EVENT).fill(0);
  ready.forEach((r, i) => {
    const p = out + i * EVENT;
    dv.setBigUint64(p, r.userdata, true);
    dv.setUint16(p + 8, r.error, true);
    dv.setUint8(p + 10, r.type);
    dv.setBigUint64(p + 16, r.nbytes, true);
  });
  s.mem.setU32(neventsPtr, ready.length);
  return E.SUCCESS;
}

function fdEvent(s: State, userdata: bigint, type: number, fd: number): Ready {
  let f;
  try {
    f = s.fds.get(fd);
  } catch {
    return { userdata, error: E.BADF, type, nbytes: 0n };
  }
  // POLL_FD_READWRITE, with FD_READ for a read subscription and FD_WRITE for a write one.
  const rights = RIGHTS.POLL_FD_READWRITE | (type === EVENTTYPE.FD_READ ? RIGHTS.FD_READ : RIGHTS.FD_WRITE);
  if ((f.base & rights) !== rights) return { userdata, error: E.NOTCAPABLE, type, nbytes: 0n };
  let nbytes = 0;
  if (type === EVENTTYPE.FD_READ) {
    if (f.stdio === 0) nbytes = s.stdin.length - s.stdinPos;
    else if (f.node?.type === FILETYPE.REGULAR_FILE) nbytes = Math.max(0, f.node.size - f.pos);
  }
  return { userdata, error: E.SUCCESS, type, nbytes: BigInt(nbytes) };
}
