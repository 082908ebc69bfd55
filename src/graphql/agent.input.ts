import 'reflect-metadata';
import { Field, InputType } from 'type-graphql';
import type { RegisterAgentParams } from '../services/agent.service.js';
import { LimitsInput } from './limits.input.js';

@InputType('RegisterAgentInput', { description: 'Exactly one of wasmBase64, wat, moduleDigest (from POST /modules).' })
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

  @Field(() => LimitsInput, { nullable: true })
  defaultLimits?: LimitsInput | null;
}
