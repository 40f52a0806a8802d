/** Single connections on API Gateway's side: whether one is open, closing one, closing a uid's. */
import { forEachConcurrent } from '../ConnectionStore.ts';
import type { GatewayError } from '../errors.ts';
import { sha256Hex } from '../sigv4.ts';
import { checkClientId, checkUid, serializeMessage } from '../validation.ts';
import { asGatewayError, type GatewayContext } from './context.ts';
import { pruneGone } from './delivery.ts';
import { markClosed } from './recovery.ts';
import type { CloseReport, Message } from './types.ts';
export async function isOnline(ctx: GatewayContext, clientId: string): Promise<boolean> {
  checkClientId(clientId);
  return (await ctx.api.get(clientId)) !== 'gone';
}

export async function closeClient(ctx: GatewayContext, clientId: string, message?: Message): Promise<boolean> {
  checkClientId(clientId);
  const payload = message === undefined ? undefined : serializeMessage(message);
  return closeOne(ctx, 'closeClient', clientId, payload, payload && sha256Hex(payload));
}

export async function destroyClient(ctx: GatewayContext, clientId: string): Promise<boolean> {
  checkClientId(clientId);
  return closeOne(ctx, 'destroyClient', clientId, undefined, undefined);
}

export async function closeOne(
  ctx: GatewayContext,
  operation: string,
  clientId: string,
  payload: Buffer | undefined,
  payloadHash: string | undefined,
): Promise<boolean> {
  let outcome: 'sent' | 'gone' | 'deleted' = 'sent';
  if (payload) outcome = await ctx.api.post(clientId, payload, payloadHash!);
  if (outcome !== 'gone') outcome = await ctx.api.delete(clientId);
  if (outcome === 'deleted') await markClosed(ctx, operation, clientId);
  if (outcome === 'gone') {
    await pruneGone(ctx, operation, [clientId]);
    return false;
  }
  return true;
}

export async function closeUid(ctx: GatewayContext, uid: string, message?: Message): Promise<CloseReport> {
  checkUid(uid);
  const payload = message === undefined ? undefined : serializeMessage(message);
  const payloadHash = payload && sha256Hex(payload);
  const ids = await ctx.store.queryIndex('closeUid', 'uids', uid, Date.now());
  const closed: string[] = [];
  const gone: string[] = [];
  const failed: Array<{ connectionId: string; error: GatewayError }> = [];
  await forEachConcurrent(ids, ctx.concurrency, async (id) => {
    try {
      let outcome: 'sent' | 'gone' | 'deleted' = 'sent';
      if (payload) outcome = await ctx.api.post(id, payload, payloadHash!);
      if (outcome !== 'gone') outcome = await ctx.api.delete(id);
      if (outcome === 'deleted') await markClosed(ctx, 'closeUid', id);
      (outcome === 'gone' ? gone : closed).push(id);
    } catch (error) {
      failed.push({ connectionId: id, error: asGatewayError(error) });
    }
  });
  if (gone.length > 0) await pruneGone(ctx, 'closeUid', gone, new Map(gone.map((id) => [id, [{ role: 'uids', key: uid, connectionId: id }]])));
  return { recipients: ids.length, closed, gone, failed };
}
