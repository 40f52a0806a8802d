/**
 * Presence groups, as Pusher's presence channels: a member is a uid (with the user info its
 * authorization returned), however many connections (tabs) it has in the group. A joiner gets the
 * member list; the group's other connections get `member_added` when a uid's first connection joins
 * and `member_removed` when its last one leaves (leaveGroup, $disconnect, or a 410 prune).
 *
 * No new table: a presence membership is a group membership (joinGroup's three writes, in its
 * order) whose groups index item also carries the uid, the info (JSON text) and the join time, and
 * whose membership item carries the uid (so that $disconnect knows whom to announce). Those items
 * stay under 2 KB (info is capped at MAX_PRESENCE_INFO_BYTES); a plain joinGroup of the same
 * connection to the same group rewrites them without the presence attributes.
 *
 * Who announces, with no transactions (strongly consistent Queries of the group's index after the
 * write): a joiner announces when no other connection of its uid is in the group with an earlier
 * (joinedAt, connectionId); a leaver, after its items are deleted, when no connection of its uid is
 * left. Two tabs joining at once both see each other and only the earlier one announces. What is left
 * can only duplicate an announcement, never lose one (two tabs leaving at once, or clocks of two
 * writers skewed past the gap between their writes, both announce), or reorder two of them (a tab
 * leaving as another tab of the same uid joins can deliver removed after added); clients keep the
 * member list by uid and ignore an added uid they have or a removed uid they lack (the Echo connector
 * does). A connection whose $disconnect was lost stays a member until a send finds it gone (410) or
 * its items expire.
 */
import type { MembershipItem, PresenceItem } from '../ConnectionStore.ts';
import { PRESENCE_INFO, PRESENCE_UID, JOINED_AT } from '../ConnectionStore.ts';
import { GatewayError, ValidationError } from '../errors.ts';
import { checkClientId, checkGroup, checkUid, describe } from '../validation.ts';
import type { BindOptions } from '../bindToken.ts';
import { joinGroup } from './groups.ts';
import { errorText } from './options.ts';
import type { GatewayContext } from './context.ts';

/** Pusher's limit on a presence member's user info: 1 KB of JSON. */
export const MAX_PRESENCE_INFO_BYTES = 1024;

/** The event names on the wire: `{"event": ..., "channel": group, "data": {...}}`. */
export const PresenceEvent = Object.freeze({
  memberAdded: 'gateway:member_added',
  memberRemoved: 'gateway:member_removed',
});

/** One member of a presence group: a uid and the user info its (latest) authorization returned. */
export interface PresenceMember {
  readonly id: string;
  readonly info: unknown;
}

export interface PresenceJoin {
  /** The members after the join, the joiner included, in order of their first connection's join. */
  readonly members: PresenceMember[];
  /** Whether this join sent member_added (the uid's first connection in the group). */
  readonly announced: boolean;
}

/** Checks a member's uid and info; returns the info as JSON text. */
export function checkPresenceMember(member: unknown, what = 'member'): { id: string; infoJson: string } {
  let id: unknown;
  let info: unknown;
  try {
    if (typeof member !== 'object' || member === null || Array.isArray(member))
      throw new ValidationError(`${what} must be an object { id, info }, got ${describe(member)}`);
    ({ id, info } = member as { id?: unknown; info?: unknown });
  } catch (error) {
    // A getter or a Proxy trap that throws, a revoked Proxy.
    if (error instanceof GatewayError) throw error;
    throw new ValidationError(`${what} could not be read: ${errorText(error)}`, { cause: error });
  }
  checkUid(id, `${what}.id`);
  let infoJson: string | undefined;
  try {
    infoJson = JSON.stringify(info ?? null);
  } catch (error) {
    throw new ValidationError(`${what}.info cannot be serialised as JSON: ${errorText(error)}`, { cause: error });
  }
  if (infoJson === undefined) throw new ValidationError(`${what}.info must be a JSON value, got ${describe(info)}`);
  const bytes = Buffer.byteLength(infoJson, 'utf8');
  if (bytes > MAX_PRESENCE_INFO_BYTES) throw new ValidationError(`${what}.info must be at most ${MAX_PRESENCE_INFO_BYTES} bytes as JSON, got ${bytes}`);
  return { id: id as string, infoJson };
}

/**
 * Joins the client to the group as the presence member `member` (joinGroup's checks, bind token and
 * errors), announces member_added to the group's other connections when this is the uid's first
 * connection there, and returns the members.
 */
export async function joinPresence(ctx: GatewayContext, clientId: string, group: string, member: PresenceMember, options?: BindOptions): Promise<PresenceJoin> {
  checkClientId(clientId);
  checkGroup(group);
  const { id, infoJson } = checkPresenceMember(member);
  const joinedAt = Date.now();
  await joinGroup(ctx, clientId, group, options, {
    index: { [PRESENCE_UID]: id, [PRESENCE_INFO]: infoJson, [JOINED_AT]: joinedAt },
    membership: { [PRESENCE_UID]: id },
  });
  const items = await ctx.store.queryPresence('joinPresence', group, Date.now());
  const earlier = items.some(
    (item) => item.uid === id && item.connectionId !== clientId && (item.joinedAt < joinedAt || (item.joinedAt === joinedAt && item.connectionId < clientId)),
  );
  if (!earlier) {
    await announce(ctx, group, PresenceEvent.memberAdded, { id, info: JSON.parse(infoJson) as unknown }, clientId);
  }
  return { members: membersOf(items), announced: !earlier };
}

/** The members of a presence group (a strongly consistent Query of its index); [] for a plain group. */
export async function getPresenceMembers(ctx: GatewayContext, group: string): Promise<PresenceMember[]> {
  checkGroup(group);
  return membersOf(await ctx.store.queryPresence('getPresenceMembers', group, Date.now()));
}

/**
 * After a connection's presence memberships were deleted: member_removed to each group where its
 * uid has no connection left. Best effort (logged): the leave itself has happened either way.
 */
export async function announceDepartures(ctx: GatewayContext, operation: string, memberships: readonly MembershipItem[]): Promise<void> {
  await Promise.all(
    memberships.map(async ({ group, presenceUid }) => {
      if (presenceUid === undefined) return;
      try {
        const left = await ctx.store.queryPresence(operation, group, Date.now());
        if (left.some((item) => item.uid === presenceUid)) return;
        await announce(ctx, group, PresenceEvent.memberRemoved, { id: presenceUid });
      } catch (error) {
        ctx.logger.warn(
          `gateway: ${operation} could not announce member_removed of ${describe(presenceUid)} in ${describe(group)}: ${errorText(error)}`,
          error,
        );
      }
    }),
  );
}

async function announce(ctx: GatewayContext, group: string, event: string, data: object, exclude?: string): Promise<void> {
  const report = await ctx.sendToGroup(group, { event, channel: group, data }, exclude === undefined ? {} : { exclude });
  for (const { connectionId, error } of report.failed)
    ctx.logger.warn(`gateway: ${event} in ${describe(group)} did not reach ${connectionId}: ${errorText(error)}`, error);
}

/** One entry per uid, in order of its earliest join, with the info of its latest join. */
function membersOf(items: readonly PresenceItem[]): PresenceMember[] {
  const byUid = new Map<string, { first: number; latest: PresenceItem }>();
  for (const item of items) {
    const seen = byUid.get(item.uid);
    if (!seen) byUid.set(item.uid, { first: item.joinedAt, latest: item });
    else {
      seen.first = Math.min(seen.first, item.joinedAt);
      if (item.joinedAt >= seen.latest.joinedAt) seen.latest = item;
    }
  }
  return [...byUid.entries()]
    .sort(([a, x], [b, y]) => x.first - y.first || (a < b ? -1 : 1)) // uids are distinct keys
    .map(([id, { latest }]) => ({ id, info: JSON.parse(latest.info) as unknown }));
}
