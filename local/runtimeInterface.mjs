// How Lambda's Node.js runtime interface client calls a handler and turns what it does into the
// invocation's result, per runtime (the facts are listed in runtimes.ts):
// - nodejs24.x (client 4.x): a handler with 3 or more parameters fails the init phase with
//   Runtime.CallbackHandlerDeprecated; the result is `await handler(event, context)`.
// - nodejs18.x to nodejs22.x (client 3.x): the handler gets a callback; the first of callback,
//   context.done/succeed/fail or a returned Promise settles the invocation. A successful callback
//   answers once the event loop is empty unless context.callbackWaitsForEmptyEventLoop was set to
//   false; done/succeed/fail and Promises answer at once; errors answer at once. A handler that does
//   none of these (a plain function returning a value, say) answers null once the loop is empty.
import { EventLoopTracker, INIT } from './eventLoopTracker.mjs';

const STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');

export function supportsCallbacks(runtime) {
  return runtime !== 'nodejs24.x';
}

/** The init error Lambda's runtime gives for this handler, if any. */
export function handlerInitError(handler, runtime) {
  if (!supportsCallbacks(runtime) && handler.length >= 3 && handler[STREAMING] !== 'response') {
    return {
      errorType: 'Runtime.CallbackHandlerDeprecated',
      // The message nodejs24.x reports (runtime interface client 4.x, CALLBACK_ERROR_NODEJS24_ABOVE).
      errorMessage:
        'ERROR: AWS Lambda has removed support for callback-based function handlers starting with Node.js 24. You need to modify this function to use a supported handler signature to use Node.js 24 or later. For more information see https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html.',
      trace: [],
    };
  }
  return undefined;
}

export function serializeError(error) {
  if (error instanceof Error) {
    return { errorType: error.name || 'Error', errorMessage: error.message, trace: String(error.stack ?? '').split('\n') };
  }
  return { errorType: typeof error, errorMessage: String(error), trace: [] };
}

function success(value) {
  try {
    return { ok: true, value: value === undefined ? null : JSON.stringify(value) };
  } catch {
    return { ok: false, error: { errorType: 'Runtime.JSONStringifyError', errorMessage: 'Unable to stringify response body', trace: [] } };
  }
}

function failure(error) {
  return { ok: false, error: serializeError(error) };
}

/** One runtime environment's way of running its handler. */
export class RuntimeInterface {
  #tracker;

  constructor(runtime) {
    if (supportsCallbacks(runtime)) {
      this.#tracker = new EventLoopTracker();
      this.#tracker.enable();
    }
  }

  /** Runs the module's load (the init phase) so that what it leaves pending counts, as on Lambda. */
  init(load) {
    return this.#tracker ? this.#tracker.run(INIT, load) : load();
  }

  /** Resolves with { ok, value (JSON text or null) } or { ok: false, error }. */
  invoke(handler, event, context, invocationId) {
    if (!this.#tracker) return this.#invokeAsync(handler, event, context);
    this.#tracker.started(invocationId);
    return this.#invokeWithCallback(handler, event, context, invocationId).finally(() => this.#tracker.finished(invocationId));
  }

  async #invokeAsync(handler, event, context) {
    try {
      return success(await handler(event, context));
    } catch (error) {
      return failure(error);
    }
  }

  #invokeWithCallback(handler, event, baseContext, invocationId) {
    const tracker = this.#tracker;
    return new Promise((resolve) => {
      let settled = false;
      let waitForEmptyEventLoop = true;
      const settle = (outcome, afterEmptyLoop) => {
        if (settled) return;
        settled = true;
        if (afterEmptyLoop) void tracker.whenEmpty(invocationId).then(() => resolve(outcome));
        else resolve(outcome);
      };
      const toOutcome = (error, result) => (error !== undefined && error !== null ? failure(error) : success(result));
      const callback = (error, result) => settle(toOutcome(error, result), (error === undefined || error === null) && waitForEmptyEventLoop);
      const done = (error, result) => settle(toOutcome(error, result), false);
      const context = {
        ...baseContext,
        get callbackWaitsForEmptyEventLoop() {
          return waitForEmptyEventLoop;
        },
        set callbackWaitsForEmptyEventLoop(value) {
          waitForEmptyEventLoop = value;
        },
        succeed: (result) => done(null, result),
        fail: (error) => done(error === undefined || error === null ? 'handled' : error),
        done,
      };
      let returned;
      try {
        returned = tracker.run(invocationId, () => handler(event, context, callback));
      } catch (error) {
        callback(error);
        return;
      }
      // The client checks `instanceof Promise`: another thenable does not settle the invocation.
      if (returned instanceof Promise) returned.then(context.succeed, context.fail);
      // Nothing settled it when the loop empties: null. Strict, so that work another invocation is
      // doing on this one's behalf (a shared client's connect, say) is waited for.
      void tracker.whenEmpty(invocationId, { strict: true }).then(() => settle(success(null), false));
    });
  }
}
