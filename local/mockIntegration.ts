/**
 * MOCK integrations of a WebSocket API: API Gateway answers the route itself and no backend runs.
 * What it does, from the API Gateway developer guide (WebSocket integration requests and responses,
 * selection expressions, data transformations) and, where marked, inferred from REST APIs' MOCK:
 * 1. The integration request: `TemplateSelectionExpression` (static text, `\$default`,
 *    `$request.body.x` / `${request.body.x}`) picks a key of `RequestTemplates`; no such key picks
 *    the `$default` template. With no template picked, `PassthroughBehavior` decides: WHEN_NO_MATCH
 *    (the default) passes the message body through unchanged, WHEN_NO_TEMPLATES only when the
 *    integration has no templates at all, NEVER refuses (the client gets the error frame
 *    "Unsupported Media Type", REST's 415 text: inferred).
 * 2. The mock's status code is the `statusCode` of the integration request's JSON. Anything else
 *    (no template and a body without it, e.g. `{"action":"ping"}`) fails with "Execution failed due
 *    to configuration error: statusCode should be an integer which defined in request template", and
 *    the client gets the error frame "Internal server error", as for any integration failure.
 * 3. A one-way route (no route response) sends nothing back, whatever the status.
 * 4. A two-way route (route response `$default`): the integration response is picked by the status
 *    code (the selection expression of MOCK integrations is fixed to `$integration.response.statuscode`):
 *    the first `/regex/` key that matches, else `$default`; none is a configuration error ("Internal
 *    server error"). Its `TemplateSelectionExpression` (also `${integration.response.statuscode}`)
 *    picks a response template, else its `$default` template; the rendered template is the reply.
 *    With no template, a mock's response body is empty and nothing is sent (inferred).
 * Templates are Velocity (VTL). This emulator renders the subset a mock needs and refuses the rest
 * when the gateway is built, so that a template never silently renders differently: literal text,
 * `$context.<variable>` (or `${context.<variable>}`), `$input.body`, `$input.json('$...')` and
 * `$input.path('$...')`. `#set`, `#if`, `#foreach` and other `$` references are refused.
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-api-integration-responses.html
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/websocket-api-data-transformations.html
 */
import { lookup } from './routeSelection.ts';

export interface MockIntegrationResponse {
  /** `$default`, or a regular expression between slashes matched against the status code, e.g. `/2\d\d/`. */
  readonly key: string;
  readonly responseTemplates?: Readonly<Record<string, string>>;
  readonly templateSelectionExpression?: string;
}

export interface MockIntegration {
  readonly requestTemplates?: Readonly<Record<string, string>>;
  readonly templateSelectionExpression?: string;
  /** @default 'WHEN_NO_MATCH' */
  readonly passthroughBehavior?: 'WHEN_NO_MATCH' | 'WHEN_NO_TEMPLATES' | 'NEVER';
  /** Used by two-way routes only. */
  readonly integrationResponses?: readonly MockIntegrationResponse[];
}

/** A route answered by API Gateway itself. */
export interface MockRouteDefinition {
  readonly mock: MockIntegration;
  /** The route has a `$default` route response (two-way). @default false */
  readonly returnResponse?: boolean;
}

/** What a template may read about the request. */
export interface MockRequest {
  readonly body: string;
  /** `$context` variables: connectionId, requestId, routeKey, stage, apiId, eventType, messageId, ... */
  readonly context: Readonly<Record<string, string | number | undefined>>;
}

export type MockOutcome =
  | { readonly ok: true; readonly statusCode: number; readonly reply?: string }
  | { readonly ok: false; readonly frameMessage: string; readonly reason: string };

/** The `$context` variables a local template may use. */
export const MOCK_CONTEXT_VARIABLES = [
  'apiId',
  'connectedAt',
  'connectionId',
  'domainName',
  'eventType',
  'extendedRequestId',
  'identity.sourceIp',
  'identity.userAgent',
  'messageId',
  'requestId',
  'requestTimeEpoch',
  'routeKey',
  'stage',
] as const;

export class MockIntegrationError extends Error {
  override readonly name = 'MockIntegrationError';
}

type Selector = (request: MockRequest, statusCode?: number) => string | undefined;
type Template = (request: MockRequest) => string;

interface CompiledResponse {
  readonly matches: (statusCode: string) => boolean;
  readonly isDefault: boolean;
  readonly select: Selector;
  readonly templates: ReadonlyMap<string, Template>;
}

export class CompiledMockIntegration {
  private readonly select: Selector;
  private readonly requestTemplates: ReadonlyMap<string, Template>;
  private readonly passthrough: NonNullable<MockIntegration['passthroughBehavior']>;
  private readonly responses: readonly CompiledResponse[];

  constructor(
    readonly routeKey: string,
    definition: MockIntegration,
    readonly returnResponse: boolean,
  ) {
    const where = `the MOCK integration of route ${routeKey}`;
    if (typeof definition !== 'object' || definition === null) throw new MockIntegrationError(`${where} must be an object`);
    this.select = compileSelection(definition.templateSelectionExpression ?? '\\$default', `${where}: templateSelectionExpression`, false);
    this.requestTemplates = compileTemplates(definition.requestTemplates, `${where}: requestTemplates`);
    const passthrough = definition.passthroughBehavior ?? 'WHEN_NO_MATCH';
    if (!['WHEN_NO_MATCH', 'WHEN_NO_TEMPLATES', 'NEVER'].includes(passthrough)) {
      throw new MockIntegrationError(`${where}: passthroughBehavior must be WHEN_NO_MATCH, WHEN_NO_TEMPLATES or NEVER, got ${JSON.stringify(passthrough)}`);
    }
    this.passthrough = passthrough;
    this.responses = (definition.integrationResponses ?? []).map((response, i) => {
      const name = `${where}: integrationResponses[${i}]`;
      const key = response.key;
      const pattern = typeof key === 'string' ? /^\/(.*)\/$/s.exec(key) : null;
      if (key !== '$default' && !pattern) throw new MockIntegrationError(`${name}.key must be $default or a /regular expression/, got ${JSON.stringify(key)}`);
      let regex: RegExp | undefined;
      try {
        if (pattern) regex = new RegExp(`^(?:${pattern[1]})$`);
      } catch (error) {
        throw new MockIntegrationError(`${name}.key ${key} is not a valid regular expression: ${(error as Error).message}`);
      }
      return {
        isDefault: key === '$default',
        matches: (status: string) => regex?.test(status) ?? false,
        select: compileSelection(response.templateSelectionExpression ?? '\\$default', `${name}.templateSelectionExpression`, true),
        templates: compileTemplates(response.responseTemplates, `${name}.responseTemplates`),
      };
    });
  }

  run(request: MockRequest): MockOutcome {
    const key = this.select(request);
    const template = (key !== undefined ? this.requestTemplates.get(key) : undefined) ?? this.requestTemplates.get('$default');
    let integrationRequest: string;
    if (template) integrationRequest = template(request);
    else if (this.passthrough === 'WHEN_NO_MATCH' || (this.passthrough === 'WHEN_NO_TEMPLATES' && this.requestTemplates.size === 0))
      integrationRequest = request.body;
    else return { ok: false, frameMessage: 'Unsupported Media Type', reason: `no request template matches and passthroughBehavior is ${this.passthrough}` };

    let statusCode: unknown;
    try {
      statusCode = (JSON.parse(integrationRequest) as { statusCode?: unknown } | null)?.statusCode;
    } catch {
      statusCode = undefined;
    }
    if (typeof statusCode !== 'number' || !Number.isInteger(statusCode)) {
      return {
        ok: false,
        frameMessage: 'Internal server error',
        reason: 'Execution failed due to configuration error: statusCode should be an integer which defined in request template',
      };
    }
    if (!this.returnResponse) return { ok: true, statusCode };

    const status = String(statusCode);
    const response = this.responses.find((r) => !r.isDefault && r.matches(status)) ?? this.responses.find((r) => r.isDefault);
    if (!response) {
      return {
        ok: false,
        frameMessage: 'Internal server error',
        reason: `Execution failed due to configuration error: no integration response matches status ${status} and there is no $default one`,
      };
    }
    const responseKey = response.select(request, statusCode);
    const responseTemplate = (responseKey !== undefined ? response.templates.get(responseKey) : undefined) ?? response.templates.get('$default');
    const reply = responseTemplate?.(request);
    return reply ? { ok: true, statusCode, reply } : { ok: true, statusCode };
  }
}

/**
 * A selection expression: static text (`\$` is a literal `$`), with `$request.body.<path>` /
 * `${request.body.<path>}` and, for integration responses, `${integration.response.statuscode}`.
 */
function compileSelection(expression: string, name: string, allowStatus: boolean): Selector {
  if (typeof expression !== 'string') throw new MockIntegrationError(`${name} must be a string`);
  type Part = string | { path: string[] } | { status: true };
  const parts: Part[] = [];
  const token = /\\\$|\$\{([^}]*)\}|\$([A-Za-z][A-Za-z0-9_.]*)/g;
  let last = 0;
  for (const m of expression.matchAll(token)) {
    parts.push(expression.slice(last, m.index));
    last = m.index + m[0].length;
    if (m[0] === '\\$') {
      parts.push('$');
      continue;
    }
    const variable = (m[1] ?? m[2])!;
    if (allowStatus && variable === 'integration.response.statuscode') parts.push({ status: true });
    else if (/^request\.body\.[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/.test(variable)) parts.push({ path: variable.split('.').slice(2) });
    else
      throw new MockIntegrationError(
        `${name}: ${JSON.stringify(expression)} uses $${variable}; the local gateway supports request.body.<path>${allowStatus ? ' and integration.response.statuscode' : ''}`,
      );
  }
  parts.push(expression.slice(last));
  return (request, statusCode) => {
    let key = '';
    let body: { value: unknown } | undefined;
    for (const part of parts) {
      if (typeof part === 'string') key += part;
      else if ('status' in part) key += statusCode === undefined ? '' : String(statusCode);
      else {
        body ??= { value: parseJson(request.body) };
        const value = lookup(body.value, part.path);
        if (value === undefined || value === null) return undefined;
        key += typeof value === 'string' ? value : JSON.stringify(value);
      }
    }
    return key;
  };
}

function compileTemplates(templates: Readonly<Record<string, string>> | undefined, name: string): Map<string, Template> {
  const compiled = new Map<string, Template>();
  if (templates === undefined) return compiled;
  if (typeof templates !== 'object' || templates === null) throw new MockIntegrationError(`${name} must be an object of templates`);
  for (const [key, template] of Object.entries(templates)) {
    if (typeof template !== 'string') throw new MockIntegrationError(`${name}[${JSON.stringify(key)}] must be a string`);
    compiled.set(key, compileTemplate(template, `${name}[${JSON.stringify(key)}]`));
  }
  return compiled;
}

/** The VTL subset described at the top of this file. */
function compileTemplate(template: string, name: string): Template {
  const directive = /(^|\n)\s*#(?!#)[A-Za-z{]/.exec(template);
  if (directive)
    throw new MockIntegrationError(
      `${name}: VTL directives (#set, #if, #foreach, ...) are not emulated locally; use literal text and $context / $input references`,
    );
  type Part = string | ((request: MockRequest, input: () => unknown) => string);
  const parts: Part[] = [];
  const reference =
    /\$\{context\.([A-Za-z.]+)\}|\$context\.([A-Za-z]+(?:\.[A-Za-z]+)?)|\$input\.body|\$input\.(json|path)\('([^']*)'\)|\$!?\{?[A-Za-z][A-Za-z0-9_.]*/g;
  let last = 0;
  for (const m of template.matchAll(reference)) {
    parts.push(template.slice(last, m.index));
    last = m.index + m[0].length;
    const contextName = m[1] ?? m[2];
    if (contextName !== undefined) {
      if (!(MOCK_CONTEXT_VARIABLES as readonly string[]).includes(contextName)) {
        throw new MockIntegrationError(`${name}: $context.${contextName} is not emulated locally; available: ${MOCK_CONTEXT_VARIABLES.join(', ')}`);
      }
      parts.push((request) => String(request.context[contextName] ?? ''));
    } else if (m[0] === '$input.body') {
      parts.push((request) => request.body);
    } else if (m[3] !== undefined) {
      const path = parseJsonPath(m[4]!, name);
      const asJson = m[3] === 'json';
      parts.push((_request, input) => {
        const value = lookup(input(), path);
        if (asJson) return value === undefined ? '' : JSON.stringify(value);
        return value === undefined || value === null ? '' : typeof value === 'string' ? value : JSON.stringify(value);
      });
    } else {
      throw new MockIntegrationError(
        `${name}: ${m[0]} is not emulated locally; use $context.<variable>, $input.body, $input.json('$...') or $input.path('$...')`,
      );
    }
  }
  parts.push(template.slice(last));
  if (parts.length === 1) {
    const text = parts[0] as string;
    return () => text;
  }
  return (request) => {
    let parsed: { value: unknown } | undefined;
    const input = () => (parsed ??= { value: parseJson(request.body) ?? request.body }).value;
    return parts.map((p) => (typeof p === 'string' ? p : p(request, input))).join('');
  };
}

/** `$` or `$.a.b` (dot segments only). */
function parseJsonPath(path: string, name: string): string[] {
  if (path === '$') return [];
  if (!/^\$(\.[A-Za-z0-9_-]+)+$/.test(path))
    throw new MockIntegrationError(`${name}: JSONPath ${JSON.stringify(path)} is not emulated locally; use $ or $.a.b`);
  return path.split('.').slice(1);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
