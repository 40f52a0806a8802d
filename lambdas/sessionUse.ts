/**
 * Whether an onMessage callback may use `ctx.session`, decided from its source text once, when the
 * message handler starts: the session has to be read before onMessage runs for `ctx.session` (a plain
 * property, GatewayWorker's `$_SESSION`) to hold it, and a callback that cannot reach it should not
 * pay for the read.
 *
 * The answer errs one way only: 'unused' only when the text proves the context object is never
 * reached other than as `<param>.<name>` with a name other than `session` (`ctx.sendToCurrentClient`,
 * `ctx.gateway`, `ctx.getSession`, ...), or when the callback takes no context parameter at all. Anything
 * it cannot follow (the context passed to a helper, stored, spread, indexed with brackets,
 * `arguments`, `eval`, a unicode escape, default values, rest parameters, a bound or native function)
 * is 'maybe', and the session is read up front as before. A module can say so itself with
 * `messageSession` (see events.ts); this is the default when it does not.
 */

export type SessionUse = 'maybe' | 'unused';

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
/** Text after which nothing can be followed: the context or the session reached some other way. */
const OPAQUE = /\barguments\b|\beval\b|\\u|\[native code\]/;

export function sessionUseOf(callback: (...args: never[]) => unknown): SessionUse {
  let text: string;
  try {
    text = Function.prototype.toString.call(callback);
  } catch {
    return 'maybe';
  }
  if (OPAQUE.test(text)) return 'maybe';
  const parsed = parameters(text);
  if (!parsed) return 'maybe';
  const { params, body } = parsed;
  if (params.length < 3) return 'unused';
  const context = params[2]!;
  if (context.startsWith('{')) return /\bsession\b/.test(context) ? 'maybe' : 'unused';
  if (!IDENTIFIER.test(context)) return 'maybe';
  return contextOnlyReadForOtherNames(body, context) ? 'unused' : 'maybe';
}

/**
 * The parameter list (split at top-level commas) and the text after it, for `function f(a, b)`,
 * `async (a, b) =>`, `a =>` and methods `f(a, b) {`. Undefined when the list holds anything but
 * identifiers and object patterns of identifiers (`{ a, b: c }`): defaults, rest, strings, comments
 * and nested brackets are not followed.
 */
function parameters(text: string): { params: string[]; body: string } | undefined {
  const single = /^\s*(?:async\s+)?([A-Za-z_$][\w$]*)\s*=>/.exec(text);
  if (single) return { params: [single[1]!], body: text.slice(single[0].length) };
  const open = text.indexOf('(');
  const close = open < 0 ? -1 : text.indexOf(')', open);
  if (close < 0) return undefined;
  // Only `async`, `function`, `*` and a plain name may come before the list: a computed method name
  // (`[expr](...)`) could hold a parenthesis of its own.
  if (!/^\s*(?:async\s*)?(?:function\b\s*)?\*?\s*(?:[A-Za-z_$][\w$]*)?\s*$/.test(text.slice(0, open))) return undefined;
  const list = text.slice(open + 1, close);
  if (!/^[\w$\s,{}:]*$/.test(list)) return undefined;
  const params: string[] = [];
  let depth = 0;
  let current = '';
  for (const char of list) {
    if (char === '{') depth++;
    if (char === '}') depth--;
    if (depth < 0) return undefined;
    if (char === ',' && depth === 0) {
      params.push(current.trim());
      current = '';
    } else {
      current += char;
    }
  }
  if (depth !== 0) return undefined;
  if (current.trim() !== '') params.push(current.trim());
  if (params.some((p) => p === '')) return undefined;
  return { params, body: text.slice(close + 1) };
}

/** True when every occurrence of `name` in `body` is `name.<identifier>` with an identifier other than `session`. */
function contextOnlyReadForOtherNames(body: string, name: string): boolean {
  const occurrence = new RegExp(`(?<![\\w$])${name.replace(/\$/g, '\\$')}(?![\\w$])`, 'g');
  for (const match of body.matchAll(occurrence)) {
    const after = body.slice(match.index + name.length);
    const access = /^\s*\.\s*([A-Za-z_$][\w$]*)/.exec(after);
    if (!access) return false;
    const next = after.charAt(access[0].length);
    // `ctx.sessioné` or `ctx.x\u...`: an identifier this does not read to its end.
    if (next !== '' && /[^\x00-\x7f]|\\/.test(next)) return false;
    if (access[1] === 'session') return false;
  }
  return true;
}
