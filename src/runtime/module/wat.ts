/**
 * WebAssembly text → binary with wabt: what registerAgent does with `wat` and what `spindle run`
 * does with a .wat file. A syntax or validation error is thrown with wabt's message, which names
 * the line (`<name>:3:5: error: …`).
 */
import wabtInit from 'wabt';

let wabt: ReturnType<typeof wabtInit> | undefined;

export async function watToWasm(text: string, name = 'module.wat'): Promise<Uint8Array> {
  const w = await (wabt ??= wabtInit());
  let mod: ReturnType<Awaited<ReturnType<typeof wabtInit>>['parseWat']> | undefined;
  try {
    mod = w.parseWat(name, text);
    mod.resolveNames();
    mod.validate();
    return mod.toBinary({}).buffer;
  } catch (err) {
    throw new Error(String((err as Error).message ?? err).trim());
  } finally {
    mod?.destroy();
  }
}
