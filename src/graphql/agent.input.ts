import 'reflect-metadata';
import { Field, InputType, Int, registerEnumType } from 'type-graphql';
import type { RegisterAgentParams } from '../services/agent.service.js';
import type { SourceParams } from '../services/build.service.js';
import { LimitsInput } from './limits.input.js';

export enum SourceLanguage {
  ASSEMBLYSCRIPT = 'assemblyscript',
  C = 'c',
  CPP = 'cpp',
}
registerEnumType(SourceLanguage, {
  name: 'SourceLanguage',
  description: 'Languages the server builds from source (others: build a WASI module or component yourself and register the .wasm).',
  valuesConfig: {
    ASSEMBLYSCRIPT: { description: 'AssemblyScript with the WASI shim: console, process (argv, env, stdin, stdout, exit), Date and Math.random are WASI calls. The first file is the entry; files end in .ts.' },
    C: { description: 'C with clang -O2 and wasi-libc (wasm32-wasip1): every .c file is compiled, then linked; .h files are headers.' },
    CPP: { description: 'C++ with clang++ -O2 -fno-exceptions, libc++ and wasi-libc: every .cpp, .cc, .cxx and .c file is compiled, then linked.' },
  },
});

@InputType('SourceFileInput')
export class SourceFileInput {
  @Field(() => String, { description: 'Relative path with the language\'s extension, e.g. "main.ts", "src/util.c" (up to 256 characters).' })
  path!: string;

  @Field(() => String)
  text!: string;
}

@InputType('SourceInput', { description: 'Source to build the module from; at most 64 files and MAX_SOURCE_BYTES together.' })
export class SourceInput implements SourceParams {
  @Field(() => SourceLanguage)
  language!: SourceLanguage;

  @Field(() => [SourceFileInput], { description: 'The first file is the entry.' })
  files!: SourceFileInput[];
}

@InputType('RegisterAgentInput', { description: 'Exactly one of wasmBase64, wat, moduleDigest (from POST /modules), source.' })
export class RegisterAgentInput implements RegisterAgentParams {
  @Field(() => String, { description: '1-64 characters: letters, digits, ".", "_", "-"; starts with a letter or digit.' })
  name!: string;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => String, { nullable: true, description: 'The module as standard base64.' })
  wasmBase64?: string | null;

  @Field(() => String, { nullable: true, description: 'The module as WebAssembly text, compiled by the server.' })
  wat?: string | null;

  @Field(() => String, { nullable: true, description: 'Digest returned by POST /modules.' })
  moduleDigest?: string | null;

  @Field(() => SourceInput, {
    nullable: true,
    description: 'Source the server builds the module from, in a sandboxed thread (BUILD_CONCURRENCY at once per node, BUILD_TIMEOUT_MS each); the same source again reuses the first build. A failed build answers BUILD_FAILED with extensions.diagnostics (file, line, column, message) and extensions.log.',
  })
  source?: SourceInput | null;

  @Field(() => LimitsInput, { nullable: true })
  defaultLimits?: LimitsInput | null;

  @Field(() => Int, {
    nullable: true,
    description: 'At most this many of the agent\'s tasks held at once (claimed or RUNNING), 1-10000; omitted or null leaves the agent\'s limit as it is.',
  })
  concurrencyLimit?: number | null;
}
