/**
 * The demo agent registered on an empty DATA_DIR: `hello` writes "hello from spindle", then its
 * arguments (space separated), a newline, and then echoes stdin to stdout.
 *
 *   submitTask(input: {agent: "hello", args: ["and", "you"], stdin: "echo me"})
 *   → stdout "hello from spindle and you\necho me"
 */
export const DEMO_AGENT_NAME = 'hello';

// Memory map: 0 iovec, 16 nwritten/nread, 20 argc, 24 argv buffer size, 0x100 text,
// 0x1000 argv pointers (1024 args), 0x3000 stdin buffer (4 KiB), 0x10000.. argument strings (up to 1 MiB).
export const DEMO_AGENT_WAT = `(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (memory (export "memory") 18)
  (data (i32.const 0x100) "hello from spindle")
  (data (i32.const 0x120) " \\n")
  (func $write (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16))))
  (func $strlen (param $p i32) (result i32)
    (local $n i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (i32.load8_u (i32.add (local.get $p) (local.get $n)))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $n))
  (func (export "_start")
    (local $i i32) (local $argc i32) (local $p i32) (local $n i32)
    (call $write (i32.const 0x100) (i32.const 18))
    (if (i32.eqz (call $args_sizes_get (i32.const 20) (i32.const 24)))
      (then
        (local.set $argc (i32.load (i32.const 20)))
        (if (i32.eqz (call $args_get (i32.const 0x1000) (i32.const 0x10000)))
          (then
            (local.set $i (i32.const 1))
            (block $end
              (loop $arg
                (br_if $end (i32.ge_u (local.get $i) (local.get $argc)))
                (call $write (i32.const 0x120) (i32.const 1))
                (local.set $p (i32.load (i32.add (i32.const 0x1000) (i32.shl (local.get $i) (i32.const 2)))))
                (call $write (local.get $p) (call $strlen (local.get $p)))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $arg)))))))
    (call $write (i32.const 0x121) (i32.const 1))
    (block $eof
      (loop $read
        (i32.store (i32.const 0) (i32.const 0x3000))
        (i32.store (i32.const 4) (i32.const 4096))
        (br_if $eof (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 16)))
        (local.set $n (i32.load (i32.const 16)))
        (br_if $eof (i32.eqz (local.get $n)))
        (call $write (i32.const 0x3000) (local.get $n))
        (br $read)))))
`;
