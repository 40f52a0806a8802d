// Worker-thread bootstrap for a Lambda function hosted by the local gateway: one worker is one warm
// execution environment, with its own module scope and its own process.env (the function's). Plain
// JavaScript so it can register tsx before loading a TypeScript handler.
import { parentPort, workerData } from 'node:worker_threads';
import { createRequire, Module, register, syncBuiltinESMExports } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import http from 'node:http';
import https from 'node:https';
import { RuntimeInterface, handlerInitError, serializeError } from './runtimeInterface.mjs';

const { entry, handlerName, handlerString, runtime, registerTsx, httpsRedirects } = workerData;
const runtimeInterface = new RuntimeInterface(runtime);

// Lambda's runtime provides the AWS SDK; so does this one, for code whose own directory lacks it.
register(new URL('./runtimeModules.mjs', import.meta.url));
const runtimeRequire = createRequire(import.meta.url);
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, parent, ...rest) {
  try {
    return resolveFilename.call(this, request, parent, ...rest);
  } catch (error) {
    if (error?.code !== 'MODULE_NOT_FOUND' || !/^@(aws-sdk|smithy|aws-crypto)\//.test(request)) throw error;
    return runtimeRequire.resolve(request);
  }
};

if (registerTsx) {
  const { register } = await import('tsx/esm/api');
  register();
}

// API Gateway endpoints are https on AWS (`https://{apiId}.execute-api.{region}.amazonaws.com/{stage}`,
// or `https://{domainName}/{stage}`); code that builds them from the event reaches the local gateway
// over plain http instead, so it runs unchanged. Only the listed hosts are redirected, and only
// through node:https (what the AWS SDK uses); fetch() is not redirected.
if (httpsRedirects.length > 0) {
  const localAgent = new http.Agent({ keepAlive: true });
  const originalRequest = https.request;
  const redirects = httpsRedirects.map((r) => ({ pattern: new RegExp(r.pattern), target: new URL(r.target) }));
  https.request = function request(...args) {
    // request(options[, cb]) or request(url[, options][, cb]), as node:https accepts them.
    let options = args[0];
    const rest = args.slice(1);
    if (typeof options === 'string' || options instanceof URL) {
      const url = new URL(options);
      const extra = rest[0] && typeof rest[0] === 'object' ? rest.shift() : {};
      options = { protocol: url.protocol, hostname: url.hostname, port: url.port || undefined, path: `${url.pathname}${url.search}`, ...extra };
    }
    if (options && typeof options === 'object') {
      const host = String(options.hostname ?? options.host ?? '');
      const hostWithPort = options.port ? `${host}:${options.port}` : host;
      const redirect = redirects.find((r) => r.pattern.test(host) || r.pattern.test(hostWithPort));
      if (redirect) {
        const { hostname, port } = redirect.target;
        return http.request({ ...options, protocol: 'http:', hostname, host: hostname, port, agent: localAgent }, ...rest);
      }
    }
    return originalRequest.apply(this, args);
  };
  // https.get calls the module's own request, not the export: route it through the replacement.
  https.get = function get(...args) {
    const req = https.request(...args);
    req.end();
    return req;
  };
  // ESM code that imported `request` by name sees the replacement too.
  syncBuiltinESMExports();
}

async function loadModule(file) {
  try {
    return await import(pathToFileURL(file).href);
  } catch (error) {
    // A CommonJS bundle under a "type": "module" package.json (cdk.out sits inside the project) is
    // read as ESM; Lambda has no such package.json, so compile it as CommonJS, as Lambda would.
    if (!(error instanceof ReferenceError) || !/\b(exports|require|module) is not defined\b/.test(error.message)) throw error;
    const mod = new Module(file);
    mod.filename = file;
    mod.paths = Module._nodeModulePaths(dirname(file));
    mod.require = createRequire(file);
    mod._compile(readFileSync(file, 'utf8'), file);
    return mod.exports;
  }
}

/** A load failure as Lambda's runtime reports it: a missing module, a syntax error, or what the code threw. */
function initErrorOf(error) {
  if (error instanceof SyntaxError)
    return { errorType: 'Runtime.UserCodeSyntaxError', errorMessage: String(error), trace: String(error.stack ?? '').split('\n') };
  if (error?.code === 'MODULE_NOT_FOUND' || !existsSync(entry))
    return { errorType: 'Runtime.ImportModuleError', errorMessage: String(error), trace: String(error?.stack ?? '').split('\n') };
  return serializeError(error);
}

function findHandler(mod) {
  const find = (object) => handlerName.split('.').reduce((nested, key) => (nested && typeof nested === 'object' ? nested[key] : undefined), object);
  return find(mod) ?? (mod && typeof mod === 'object' && 'default' in mod ? find(mod.default) : undefined);
}

// The init phase: load the module and check the handler, as Lambda's runtime does before the first
// invocation. What came before (starting the thread, registering the hooks above) is the emulator's
// own start-up, much slower than Lambda's runtime start: it is not charged to the init's budget.
parentPort.postMessage({ type: 'runtime-ready' });
let handler;
let initError;
try {
  const mod = await runtimeInterface.init(() => loadModule(entry));
  const found = findHandler(mod);
  if (!found) initError = { errorType: 'Runtime.HandlerNotFound', errorMessage: `${handlerString} is undefined or not exported`, trace: [] };
  else if (typeof found !== 'function') initError = { errorType: 'Runtime.HandlerNotFound', errorMessage: `${handlerString} is not a function`, trace: [] };
  else initError = handlerInitError(found, runtime);
  handler = initError ? undefined : found;
} catch (error) {
  initError = initErrorOf(error);
}
parentPort.postMessage(initError ? { type: 'init-error', error: initError } : { type: 'ready' });

parentPort.on('message', async (message) => {
  if (message.type !== 'invoke' || !handler) return;
  const { id, event, context: ctx } = message;
  const { deadlineMs, ...fields } = ctx;
  const context = { ...fields, getRemainingTimeInMillis: () => Math.max(0, deadlineMs - Date.now()) };
  const outcome = await runtimeInterface.invoke(handler, event, context, id);
  parentPort.postMessage({ type: 'result', id, ...outcome });
});
