/**
 * The session: read, replace, deep-merge under optimistic locking on `version`. It lives in the
 * sessions table, one item per connection, created by registerConnection and removed by
 * $disconnect or a 410 prune, so what these cost depends on the session's size and nothing else
 * does. The item's existence stands for the connection's: every write is conditional on it, so a
 * write racing a disconnect never brings a session back.
 */
import { sleep } from '../ConnectionsApi.ts';
import { ConditionFailed } from '../ConnectionStore.ts';
import { ConflictError, ConnectionGoneError } from '../errors.ts';
import { checkClientId, checkSession, checkSessionSize, mergeSession, type Session } from '../validation.ts';
import type { GatewayContext } from './context.ts';

export async function getSession(ctx: GatewayContext, clientId: string): Promise<Session | undefined> {
  checkClientId(clientId);
  const item = await ctx.store.getSession('getSession', clientId, ['session']);
  return item ? (item.session ?? {}) : undefined;
}

export async function setSession(ctx: GatewayContext, clientId: string, session: Session): Promise<void> {
  checkClientId(clientId);
  const value = checkSession(session);
  try {
    await ctx.store.updateSession('setSession', clientId, {
      expression: 'SET #s = :s ADD #v :one',
      names: { '#s': 'session', '#v': 'version' },
      values: { ':s': value, ':one': 1 },
    });
  } catch (error) {
    if (error instanceof ConditionFailed) throw new ConnectionGoneError(clientId);
    throw error;
  }
}

export async function updateSession(ctx: GatewayContext, clientId: string, patch: Session): Promise<Session> {
  checkClientId(clientId);
  const value = checkSession(patch, 'patch');
  for (let attempt = 1; ; attempt++) {
    const item = await ctx.store.getSession('updateSession', clientId, ['session', 'version']);
    if (!item) throw new ConnectionGoneError(clientId);
    const merged = mergeSession(item.session ?? {}, value);
    checkSessionSize(merged, 'the merged session');
    const version = item.version;
    try {
      await ctx.store.updateSession('updateSession', clientId, {
        expression: 'SET #s = :s, #v = :next',
        names: { '#s': 'session', '#v': 'version' },
        values: { ':s': merged, ':next': (version ?? 0) + 1, ...(version === undefined ? {} : { ':v': version }) },
        condition: version === undefined ? 'attribute_not_exists(#v)' : '#v = :v',
      });
      return merged;
    } catch (error) {
      if (!(error instanceof ConditionFailed)) throw error;
      if (attempt >= ctx.maxSessionAttempts) throw new ConflictError(clientId, attempt);
      await sleep(ctx.random() * Math.min(200, 5 * 2 ** Math.min(attempt, 6)));
    }
  }
}
