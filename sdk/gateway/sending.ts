/** The sends: recipients resolved from the index tables (strongly consistent Queries), then delivery.ts; sendToAll streams (broadcast.ts). */
import { performance } from 'node:perf_hooks';
import { forEachConcurrent } from '../ConnectionStore.ts';
import { checkClientId, checkClientIds, checkExclude, checkGroup, checkNames, checkOptionsObject, checkUid, serializeMessage } from '../validation.ts';
import type { GatewayContext, Recipients } from './context.ts';
import { broadcast } from './broadcast.ts';
import { deliver, dispatch } from './delivery.ts';
import type { Message, SendReport } from './types.ts';
export async function sendToClient(ctx: GatewayContext, clientId: string, message: Message): Promise<SendReport> {
  checkClientId(clientId);
  const payload = serializeMessage(message);
  return deliver(ctx, 'sendToClient', new Map([[clientId, []]]), payload, 0);
}

export async function sendToUid(ctx: GatewayContext, uid: string | string[], message: Message, options?: { exclude?: string | string[] }): Promise<SendReport> {
  const uids = checkNames(uid, checkUid, 'uid');
  const exclude = checkExclude(checkOptionsObject(options, 'options').exclude, 'options.exclude');
  const payload = serializeMessage(message);
  const started = performance.now();
  const recipients = await resolveIndex(ctx, 'sendToUid', 'uids', uids, exclude);
  return dispatch(ctx, 'sendToUid', recipients, payload, performance.now() - started);
}

export async function sendToGroup(
  ctx: GatewayContext,
  group: string | string[],
  message: Message,
  options?: { exclude?: string | string[] },
): Promise<SendReport> {
  const groups = checkNames(group, checkGroup, 'group');
  const exclude = checkExclude(checkOptionsObject(options, 'options').exclude, 'options.exclude');
  const payload = serializeMessage(message);
  const started = performance.now();
  const recipients = await resolveIndex(ctx, 'sendToGroup', 'groups', groups, exclude);
  return dispatch(ctx, 'sendToGroup', recipients, payload, performance.now() - started);
}

export async function sendToAll(ctx: GatewayContext, message: Message, options?: { clientIds?: string[]; exclude?: string | string[] }): Promise<SendReport> {
  const input = checkOptionsObject(options, 'options');
  const clientIds = input.clientIds === undefined ? undefined : checkClientIds(input.clientIds, 'options.clientIds');
  const exclude = checkExclude(input.exclude, 'options.exclude');
  const payload = serializeMessage(message);
  if (!clientIds) return broadcast(ctx, payload, exclude);
  const recipients: Recipients = new Map();
  for (const id of clientIds) if (!exclude.has(id)) recipients.set(id, []);
  return dispatch(ctx, 'sendToAll', recipients, payload, 0);
}

export async function resolveIndex(ctx: GatewayContext, operation: string, role: 'uids' | 'groups', keys: string[], exclude: Set<string>): Promise<Recipients> {
  const now = Date.now();
  const results: Array<Array<{ connectionId: string; env: boolean }>> = new Array(keys.length);
  await forEachConcurrent(keys, ctx.concurrency, async (key, i) => {
    results[i] = await ctx.store.queryRecipients(operation, role, key, now);
  });
  const recipients: Recipients = new Map();
  keys.forEach((key, i) => {
    for (const { connectionId: id, env } of results[i]!) {
      if (exclude.has(id)) continue;
      const source = env ? { role, key, connectionId: id, env } : { role, key, connectionId: id };
      const sources = recipients.get(id);
      if (sources) sources.push(source);
      else recipients.set(id, [source]);
    }
  });
  return recipients;
}
