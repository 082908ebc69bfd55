import { SpindleError } from '../../domain/errors.js';

/** A module Spindle cannot run: malformed, not a WASI command, or using something unsupported. */
export class InvalidModuleError extends SpindleError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('INVALID_MODULE', message, details);
    this.name = 'InvalidModuleError';
  }
}

/** A decoding failure at a byte offset of the module. */
export const malformedAt = (offset: number, what: string) =>
  new InvalidModuleError(`malformed module at offset ${offset}: ${what}`, { offset });
