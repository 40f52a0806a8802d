/**
 * The Lambda Node.js runtimes a hosted function can declare, and what each one changes in how its
 * handler runs (lambdaWorker.mjs reads these facts):
 * - nodejs18.x, nodejs20.x, nodejs22.x: Lambda's runtime interface client 3.x. A handler may take a
 *   callback (`handler(event, context, callback)`); the context has `callbackWaitsForEmptyEventLoop`,
 *   `succeed`, `fail` and `done`; a handler that returns something other than a Promise answers null
 *   once the event loop is empty, unless it called back.
 * - nodejs24.x: the 4.x client. A handler with three or more parameters fails the init phase with
 *   `Runtime.CallbackHandlerDeprecated`; the context has none of the callback members, and whatever
 *   the handler returns (awaited) is the result.
 * Sources: aws/aws-lambda-nodejs-runtime-interface-client (src/Runtime/Runtime.ts and
 * CallbackContext.ts of 3.x; src/function/callback-deprecation.ts, src/context/constants.ts and
 * src/runtime/buffered-invoke-processor.ts of 4.x), and the init errors users report from nodejs24.x.
 *
 * All of them run on the one Node.js that runs the gateway: `process.version`, the language features
 * and the bundled AWS SDK are this machine's, not the runtime's.
 */

export const LAMBDA_NODE_RUNTIMES = ['nodejs18.x', 'nodejs20.x', 'nodejs22.x', 'nodejs24.x'] as const;
export type LambdaNodeRuntime = (typeof LAMBDA_NODE_RUNTIMES)[number];

/** What the gateway presents a function as when nothing says otherwise: the newest runtime. */
export const DEFAULT_RUNTIME: LambdaNodeRuntime = 'nodejs24.x';

export function isLambdaNodeRuntime(runtime: string): runtime is LambdaNodeRuntime {
  return (LAMBDA_NODE_RUNTIMES as readonly string[]).includes(runtime);
}

/** Whether handlers may answer through a callback (and the context carries its members). */
export function supportsCallbacks(runtime: LambdaNodeRuntime): boolean {
  return runtime !== 'nodejs24.x';
}

/** The Node.js major version Lambda runs for the runtime. */
export function nodeMajorOf(runtime: LambdaNodeRuntime): number {
  return Number(/^nodejs(\d+)\.x$/.exec(runtime)![1]);
}

/** A clear error for a runtime the gateway cannot host, or undefined when it can. */
export function unsupportedRuntimeReason(runtime: string): string | undefined {
  if (isLambdaNodeRuntime(runtime)) return undefined;
  const node = /^nodejs(\d+)?(\.\d+|\.x)?$/.exec(runtime);
  if (node) {
    return `runtime ${runtime} is retired: Lambda no longer creates or updates functions with it; use one of ${LAMBDA_NODE_RUNTIMES.join(', ')}`;
  }
  return `runtime ${runtime} is not a Node.js runtime; the local gateway runs ${LAMBDA_NODE_RUNTIMES.join(', ')}`;
}
