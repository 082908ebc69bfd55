/**
 * WASI preview 1 errno values (`$errno` in typenames.witx, a u16 enum: the value is the position
 * in the witx list). Host code signals an errno by `throw E.NOENT` (a plain number: no stack
 * capture, so it is cheap) and the import wrapper turns it into the function's return value.
 */
export const E = {
  SUCCESS: 0, '2BIG': 1, ACCES: 2, ADDRINUSE: 3, ADDRNOTAVAIL: 4, AFNOSUPPORT: 5, AGAIN: 6,
  ALREADY: 7, BADF: 8, BADMSG: 9, BUSY: 10, CANCELED: 11, CHILD: 12, CONNABORTED: 13,
  CONNREFUSED: 14, CONNRESET: 15, DEADLK: 16, DESTADDRREQ: 17, DOM: 18, DQUOT: 19, EXIST: 20,
  FAULT: 21, FBIG: 22, HOSTUNREACH: 23, IDRM: 24, ILSEQ: 25, INPROGRESS: 26, INTR: 27, INVAL: 28,
  IO: 29, ISCONN: 30, ISDIR: 31, LOOP: 32, MFILE: 33, MLINK: 34, MSGSIZE: 35, MULTIHOP: 36,
  NAMETOOLONG: 37, NETDOWN: 38, NETRESET: 39, NETUNREACH: 40, NFILE: 41, NOBUFS: 42, NODEV: 43,
  NOENT: 44, NOEXEC: 45, NOLCK: 46, NOLINK: 47, NOMEM: 48, NOMSG: 49, NOPROTOOPT: 50, NOSPC: 51,
  NOSYS: 52, NOTCONN: 53, NOTDIR: 54, NOTEMPTY: 55, NOTRECOVERABLE: 56, NOTSOCK: 57, NOTSUP: 58,
  NOTTY: 59, NXIO: 60, OVERFLOW: 61, OWNERDEAD: 62, PERM: 63, PIPE: 64, PROTO: 65,
  PROTONOSUPPORT: 66, PROTOTYPE: 67, RANGE: 68, ROFS: 69, SPIPE: 70, SRCH: 71, STALE: 72,
  TIMEDOUT: 73, TXTBSY: 74, XDEV: 75, NOTCAPABLE: 76,
} as const;
export type Errno = (typeof E)[keyof typeof E];

/** Thrown by proc_exit: unwinds the guest. The caller of `_start` reads `code` (the u32 exit code). */
export class ProcExit extends Error {
  override readonly name = 'ProcExit';
  constructor(readonly code: number) {
    super(`proc_exit(${code})`);
  }

  /**
   * The ProcExit for `code`: one frozen instance per code below 256, made without a stack trace.
   * proc_exit ends almost every task, and building an Error (the stack capture through wasm
   * frames above all) cost more than the rest of a hello-world run. A stack would only ever
   * point into the guest anyway.
   */
  static make(code: number): ProcExit {
    if (code < 256) return (EXITS[code] ??= quietly(() => Object.freeze(new ProcExit(code))));
    return quietly(() => new ProcExit(code));
  }
}

const EXITS: ProcExit[] = [];

function quietly<T>(make: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return make();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** Thrown by fd_write once the guest has tried to write more than `hardOutputBytes` to stdio. */
export class OutputLimitExceeded extends Error {
  constructor(readonly limit: number) {
    super(`guest tried to write more than ${limit} bytes to stdout/stderr`);
    this.name = 'OutputLimitExceeded';
  }
}

/**
 * Map whatever an import threw to what the guest sees. Numbers are our errnos. A RangeError
 * comes from a typed-array/DataView access outside linear memory: the guest passed a bad
 * pointer, which answers EFAULT (nothing is written). A failed buffer allocation is ENOMEM. A
 * stack overflow is also a RangeError but belongs to the guest's recursion: it propagates like
 * every other exception (ProcExit, OutputLimitExceeded, host bugs) and ends the run.
 */
export function errnoOf(e: unknown): number {
  if (typeof e === 'number') return e;
  if (e instanceof RangeError) {
    if (e.message.includes('allocation failed')) return E.NOMEM; // a file buffer the host could not get
    if (!e.message.includes('call stack')) return E.FAULT;
  }
  throw e;
}
