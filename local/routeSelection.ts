/**
 * Route selection as API Gateway does it: the API's route selection expression is evaluated against
 * each JSON message and the result picks the route whose key matches exactly. Anything that cannot be
 * evaluated (non-JSON body, missing field) falls back to `$default`.
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/websocket-api-develop-routes.html
 */

/** A compiled expression: returns the selected route key, or undefined when it cannot be evaluated. */
export type RouteSelector = (body: string) => string | undefined;

const WHOLE = /^\$request\.body\.([A-Za-z0-9_$-]+(?:\.[A-Za-z0-9_$-]+)*)$/;
const TEMPLATE_PART = /\$\{request\.body\.([A-Za-z0-9_$-]+(?:\.[A-Za-z0-9_$-]+)*)\}/g;

export class RouteSelectionExpressionError extends Error {
  override readonly name = 'RouteSelectionExpressionError';
}

export function compileRouteSelectionExpression(expression: string): RouteSelector {
  const whole = WHOLE.exec(expression);
  if (whole) {
    const path = whole[1]!.split('.');
    return (body) => {
      const parsed = parseJson(body);
      return parsed.ok ? stringifySelected(lookup(parsed.value, path)) : undefined;
    };
  }
  const parts = [...expression.matchAll(TEMPLATE_PART)];
  if (parts.length > 0) {
    return (body) => {
      const parsed = parseJson(body);
      if (!parsed.ok) return undefined;
      let failed = false;
      const key = expression.replace(TEMPLATE_PART, (_m, path: string) => {
        const value = stringifySelected(lookup(parsed.value, path.split('.')));
        if (value === undefined) failed = true;
        return value ?? '';
      });
      return failed ? undefined : key;
    };
  }
  throw new RouteSelectionExpressionError(
    `unsupported route selection expression ${JSON.stringify(expression)}: use $request.body.<path> or a template of \${request.body.<path>} parts`,
  );
}

function parseJson(body: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(body) };
  } catch {
    return { ok: false };
  }
}

/** The value at `path` inside a parsed JSON body, or undefined where the path leaves the objects. */
export function lookup(value: unknown, path: readonly string[]): unknown {
  let current = value;
  for (const segment of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

/** API Gateway stringifies the selected value; an array becomes `[a, b]`. */
function stringifySelected(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return `[${value.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ')}]`;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}
