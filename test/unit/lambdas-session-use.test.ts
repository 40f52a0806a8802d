// sessionUseOf (lambdas/sessionUse.ts) says 'unused' only when an onMessage callback's source proves
// it never reaches ctx.session; everything it cannot follow is 'maybe' (the session is then read up
// front). Each 'maybe' below is a way a callback could reach the session.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { transformSync } from 'esbuild';
import { sessionUseOf } from '../../lambdas/sessionUse.ts';

/** A function from source text, as a module would define it (no closure over this file). */
const fn = (source: string) => new Function(`return (${source});`)() as (...args: never[]) => unknown;

describe('sessionUseOf', () => {
  test("'unused': no context parameter, or the context used only as ctx.<another name>", () => {
    for (const source of [
      '() => {}',
      'function () {}',
      'm => console.log(m)',
      'async (id, message) => { await fetch(message) }',
      'function onMessage(id, message) { return id + message }',
      'async (id, message, ctx) => { await ctx.sendToCurrentClient(message); ctx.closeCurrentClient(); }',
      '(id, m, ctx) => ctx.gateway.sendToUid(ctx.clientId, m)',
      'async (id, m, ctx) => { const s = await ctx.getSession(); s.n = 1; }',
      '(id, m, c) => c . requestContext',
      '(id, m, { sendToCurrentClient, gateway: g }) => sendToCurrentClient(m)',
      '(id, m, ctx) => { const context = 1; const ctxx = ctx.clientId; return "ctx" }', // `ctx` only inside longer names... and a string
    ]) {
      assert.equal(sessionUseOf(fn(source)), source.includes('"ctx"') ? 'maybe' : 'unused', source);
    }
    // A method, a static method of a class, and esbuild's minified output of an arrow.
    assert.equal(
      sessionUseOf(
        {
          onMessage(_id: string, m: string, ctx: { sendToCurrentClient(m: string): void }) {
            ctx.sendToCurrentClient(m);
          },
        }.onMessage,
      ),
      'unused',
    );
    class Events {
      static onMessage(_id: string, m: string, ctx: { sendToCurrentClient(m: string): void }) {
        ctx.sendToCurrentClient(m);
      }
    }
    assert.equal(sessionUseOf(Events.onMessage), 'unused');
    const minified = transformSync('export const onMessage = async (id, message, ctx) => { await ctx.sendToCurrentClient(message) }', {
      minify: true,
      format: 'cjs',
    }).code;
    const module = { exports: {} as Record<string, (...args: never[]) => unknown> };
    new Function('exports', 'module', minified)(module.exports, module);
    assert.equal(sessionUseOf(module.exports.onMessage!), 'unused', minified);
  });

  test("'maybe': ctx.session itself, and every way the context or the session can be reached unseen", () => {
    for (const source of [
      '(id, m, ctx) => { ctx.session.n = 1 }',
      '(id, m, ctx) => ctx . session',
      '(id, m, ctx) => ctx?.session',
      '(id, m, ctx) => ctx["session"]',
      '(id, m, ctx) => helper(ctx)',
      '(id, m, ctx) => { const c = ctx; return c.session }',
      '(id, m, ctx) => ({ ...ctx })',
      '(id, m, { session }) => session',
      '(id, m, { session: s }) => s',
      '(id, m, { ...rest }) => rest.session',
      '(id, m, ...rest) => rest[2].session',
      '(...args) => args[2].session',
      'function (id, m) { return arguments[2].session }',
      '(id, m, ctx) => eval("ctx.session")',
      '(id, m, ctx) => \\u0063tx.session',
      '(id, m, ctx) => ctx.\\u0073ession',
      '(id, m, ctx = {}) => ctx.session',
      '(id, m = ")", ctx) => ctx.session',
      '(id, m, /* ctx */ ctx) => ctx.session',
      '(id, m, [ctx]) => ctx.session',
      '(id, m, ctx) => { with (ctx) { return session } }',
      '(id, m, ctx) => Object.keys(ctx)',
    ]) {
      assert.equal(sessionUseOf(fn(source)), 'maybe', source);
    }
    assert.equal(sessionUseOf(((_a: string, _b: string, ctx: { session: object }) => ctx.session).bind(null)), 'maybe', 'a bound function shows no source');
    assert.equal(sessionUseOf(Math.max as never), 'maybe', 'native code');
    // A computed method name may hold a parenthesis before the parameter list.
    const computed = {
      [`on${String('Message')}`](_id: string, _m: string, ctx: { session: object }) {
        return ctx.session;
      },
    };
    assert.equal(sessionUseOf(fn('(() => { const f = () => "x"; return { [f(1)](id, m, ctx) { return ctx.session } }.x; })()')), 'maybe');
    assert.equal(sessionUseOf(computed.onMessage!), 'maybe');
    assert.equal(sessionUseOf(new Proxy(() => {}, {}) as never), 'maybe', 'a proxy');
  });
});
