/**
 * The Gateway API: GatewayClient's API for any language, as one Lambda function invoked with
 * `lambda:InvokeFunction` (IAM is the authentication). The wire format is in gatewayApiProtocol.ts,
 * the methods in gatewayApiMethods.ts.
 *
 * Why failures are normal results rather than thrown errors (which Lambda reports with
 * `X-Amz-Function-Error: Unhandled`): a thrown error reaches the caller as Lambda's
 * `{errorType, errorMessage, trace}`, which drops the SDK's `code` and details; every AWS SDK and the
 * CLI present it as a failed invocation, so "the client is gone" would look like "the function
 * crashed"; asynchronous (Event) invocations would be retried twice for input no retry can fix; and
 * the function's Errors metric would count bad input. So only crashes (a bug, a timeout, memory)
 * fail the invocation, and an alarm on Errors means something is broken.
 */
import { GatewayError, MethodNotAllowedError, ValidationError, type Gateway } from '../sdk/index.ts';
import { describe } from '../sdk/validation.ts';
import { GATEWAY_API_METHODS, type GatewayApiMethod } from './gatewayApiMethods.ts';
import { MAX_CALLS_PER_BATCH, type GatewayApiCallResult, type GatewayApiError, type GatewayApiResult } from './gatewayApiProtocol.ts';

export interface GatewayApiHandlerOptions {
  readonly gateway: Gateway;
  /**
   * The methods this function accepts (lambdas/gatewayApiAccess.ts); any other answers
   * MethodNotAllowedError before anything runs. @default every method
   */
  readonly allowedMethods?: ReadonlySet<string>;
}

/** A call whose arguments passed their checks, ready to run. */
interface CheckedCall {
  readonly method: GatewayApiMethod;
  readonly args: readonly unknown[];
}

export function createGatewayApiHandler(options: GatewayApiHandlerOptions): (event: unknown) => Promise<GatewayApiResult> {
  const { gateway } = options;
  return async (event) => {
    let parsed: { calls: CheckedCall[]; batch: boolean };
    try {
      parsed = parseEvent(event, options.allowedMethods);
    } catch (error) {
      return { ok: false, error: errorJson(error) };
    }
    if (!parsed.batch) return runCall(gateway, parsed.calls[0]!);
    const results: GatewayApiCallResult[] = [];
    for (const [index, call] of parsed.calls.entries()) {
      const result = await runCall(gateway, call);
      results.push(result);
      if (!result.ok) return { ok: false, error: { ...result.error, index }, results };
    }
    return { ok: true, results };
  };
}

async function runCall(gateway: Gateway, call: CheckedCall): Promise<GatewayApiCallResult> {
  try {
    return { ok: true, result: toJson(await call.method.run(gateway, call.args)) ?? null };
  } catch (error) {
    // The SDK rejects with GatewayErrors only; anything else is a bug and fails the invocation.
    if (!(error instanceof GatewayError)) throw error;
    return { ok: false, error: errorJson(error) };
  }
}

/** Checks the whole event, every call of a batch included, before anything runs. */
function parseEvent(event: unknown, allowed: ReadonlySet<string> | undefined): { calls: CheckedCall[]; batch: boolean } {
  if (!isObject(event)) throw new ValidationError(`the event must be a JSON object with "method" and "args", or with "calls", got ${describe(event)}`);
  if ('calls' in event) {
    onlyKeys(event, ['calls'], 'a batch event');
    const calls = event.calls;
    if (!Array.isArray(calls) || calls.length === 0 || calls.length > MAX_CALLS_PER_BATCH) {
      throw new ValidationError(
        `"calls" must be an array of 1 to ${MAX_CALLS_PER_BATCH} calls, got ${Array.isArray(calls) ? `${calls.length} calls` : describe(calls)}`,
      );
    }
    return { calls: calls.map((call, index) => checkCall(call, `calls[${index}]`, allowed, index)), batch: true };
  }
  return { calls: [checkCall(event, 'the event', allowed)], batch: false };
}

function checkCall(call: unknown, where: string, allowed: ReadonlySet<string> | undefined, index?: number): CheckedCall {
  try {
    if (!isObject(call)) throw new ValidationError(`${where} must be an object with "method" and "args", got ${describe(call)}`);
    onlyKeys(call, ['method', 'args'], where);
    const name = call.method;
    if (typeof name !== 'string') throw new ValidationError(`${where} needs "method", the name of a GatewayClient method, got ${describe(name)}`);
    const method = Object.hasOwn(GATEWAY_API_METHODS, name) ? GATEWAY_API_METHODS[name] : undefined;
    if (!method) throw new ValidationError(`${where}: unknown method ${JSON.stringify(name.slice(0, 100))}`);
    if (allowed && !allowed.has(name)) throw new MethodNotAllowedError(name);
    const args = call.args ?? [];
    if (!Array.isArray(args)) throw new ValidationError(`${where}: "args" must be an array (GatewayClient's arguments in order), got ${describe(args)}`);
    const { params } = method;
    if (args.length > params.length)
      throw new ValidationError(`${name} takes at most ${params.length} arguments (${params.map((p) => p.name).join(', ') || 'none'}), got ${args.length}`);
    const checked = params.map((param, i) => {
      const value: unknown = args[i];
      if (param.optional && (value === undefined || value === null)) return undefined;
      if (i >= args.length) throw new ValidationError(`${name} needs ${param.name} (argument ${i + 1} of ${params.length})`);
      param.check(value, `${name}: ${param.name}`);
      return value;
    });
    return { method, args: checked };
  } catch (error) {
    if (error instanceof GatewayError && index !== undefined) throw Object.assign(error, { index });
    throw error;
  }
}

function onlyKeys(value: Record<string, unknown>, allowed: readonly string[], where: string): void {
  const extra = Object.keys(value).filter((key) => !allowed.includes(key));
  if (extra.length > 0)
    throw new ValidationError(
      `${where} has unknown ${extra.length === 1 ? 'key' : 'keys'} ${extra.map((k) => JSON.stringify(k.slice(0, 50))).join(', ')}; allowed: ${allowed.join(', ')}`,
    );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A GatewayError as the JSON any client reads (see GatewayApiError). */
export function errorJson(error: unknown): GatewayApiError {
  if (!(error instanceof GatewayError)) throw error;
  const details = error as GatewayError &
    Partial<Record<'index' | 'statusCode' | 'limit' | 'size', unknown> & Record<'errorType' | 'connectionId' | 'reason' | 'method', unknown>>;
  return {
    code: error.code,
    name: error.name,
    message: error.message,
    ...(typeof details.index === 'number' ? { index: details.index } : {}),
    ...(typeof details.statusCode === 'number' ? { statusCode: details.statusCode } : {}),
    ...(typeof details.errorType === 'string' ? { errorType: details.errorType } : {}),
    ...(typeof details.connectionId === 'string' ? { connectionId: details.connectionId } : {}),
    ...(typeof details.limit === 'number' ? { limit: details.limit } : {}),
    ...(typeof details.size === 'number' ? { size: details.size } : {}),
    ...(typeof details.reason === 'string' ? { reason: details.reason } : {}),
    ...(typeof details.method === 'string' ? { method: details.method } : {}),
  };
}

/** SDK results as plain JSON: reports' GatewayErrors become GatewayApiErrors, `undefined` null. */
function toJson(value: unknown): unknown {
  if (value instanceof GatewayError) return errorJson(value);
  if (Array.isArray(value)) return value.map((item) => toJson(item) ?? null);
  if (isObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) if (item !== undefined) out[key] = toJson(item);
    return out;
  }
  return value;
}
