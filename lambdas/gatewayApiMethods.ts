/**
 * The Gateway API's methods: GatewayClient's names and argument order, each mapped onto one SDK call.
 *
 * Every argument is checked with the SDK's own rules (sdk/validation.ts) before any call of the
 * event runs, so a batch with bad input in its third call does not run its first two. The SDK checks
 * again when called; the rules are the same by construction.
 *
 * Left out on purpose: what only makes sense inside one process or one of the backend's own Lambdas
 * (registerConnection, unregisterConnection, deliverChunk, destroy, connectionPath), GatewayClient's
 * `*CurrentClient` methods (no current client across a process boundary) and the deprecated
 * `getAllClientInfo` / `getClientInfoByGroup` aliases. Binary messages cannot cross JSON: a message
 * is a string (sent as is) or any other JSON value (sent as its JSON text).
 */
import { ValidationError, type BindOptions, type Gateway, type Message, type PresenceMember } from '../sdk/index.ts';
import { checkPresenceMember } from '../sdk/gateway/presence.ts';
import {
  checkClientId,
  checkClientIds,
  checkExclude,
  checkGroup,
  checkNameList,
  checkNames,
  checkSession,
  checkUid,
  describe,
  serializeMessage,
} from '../sdk/validation.ts';

/** One positional argument: how to check it, and whether it may be left out (or null). */
interface Param {
  readonly name: string;
  /** Throws a ValidationError when the value breaks the SDK's rules; the value itself is what is passed on. */
  readonly check: (value: unknown, what: string) => unknown;
  readonly optional?: true;
}

export interface GatewayApiMethod {
  readonly params: readonly Param[];
  /** Runs the call on arguments that passed their checks (an optional one left out or null is undefined). */
  readonly run: (gateway: Gateway, args: readonly unknown[]) => Promise<unknown>;
}

const MAX_BIND_TOKEN_LENGTH = 4096;

const clientId: Param = { name: 'client_id', check: checkClientId };
const uid: Param = { name: 'uid', check: checkUid };
const uids: Param = { name: 'uid', check: (v, what) => checkNames(v, checkUid, what) };
const uidList: Param = { name: 'uids', check: (v, what) => checkNameList(v, checkUid, what) };
const group: Param = { name: 'group', check: checkGroup };
const groups: Param = { name: 'group', check: (v, what) => checkNames(v, checkGroup, what) };
const groupList: Param = { name: 'groups', check: (v, what) => checkNameList(v, checkGroup, what) };
const message: Param = { name: 'message', check: (v) => serializeMessage(v) };
const optionalMessage: Param = { ...message, optional: true };
const exclude: Param = { name: 'exclude_client_id', check: checkExclude, optional: true };
const session: Param = { name: 'session', check: checkSession };
const requiredBindToken: Param = {
  name: 'bind_token',
  check: (v, what) => {
    if (typeof v !== 'string' || v.length === 0 || v.length > MAX_BIND_TOKEN_LENGTH) {
      throw new ValidationError(`${what} must be a non-empty string of at most ${MAX_BIND_TOKEN_LENGTH} characters, got ${describe(v)}`);
    }
    return v;
  },
};
const bindToken: Param = { ...requiredBindToken, optional: true };
/** A presence member: { id: uid, info: any JSON value of up to 1 KB }. */
const presenceMember: Param = { name: 'member', check: checkPresenceMember };
/** GatewayClient's `$group = ''`: absent, null or '' means every connection. */
const groupOrAll: Param = { name: 'group', optional: true, check: (v, what) => (v === '' ? v : checkGroup(v, what)) };

const str = (value: unknown) => value as string;
const names = (value: unknown) => value as string | string[];
const list = (value: unknown) => value as string[];
const excluded = (value: unknown) => value as string | string[] | undefined;
const bindingOptions = (token: unknown): BindOptions | undefined => (token === undefined ? undefined : { bindToken: token as string });

const method = (params: readonly Param[], run: GatewayApiMethod['run']): GatewayApiMethod => ({ params, run });
const noArgs = (run: (gateway: Gateway) => Promise<unknown>) => method([], (gateway) => run(gateway));

export const GATEWAY_API_METHODS: Readonly<Record<string, GatewayApiMethod>> = Object.freeze(
  Object.assign(Object.create(null) as Record<string, GatewayApiMethod>, {
    // ---- sending ----
    sendToClient: method([clientId, message], (g, [id, msg]) => g.sendToClient(str(id), msg as Message)),
    sendToUid: method([uids, message, exclude], (g, [u, msg, ex]) => g.sendToUid(names(u), msg as Message, { exclude: excluded(ex) })),
    sendToGroup: method([groups, message, exclude], (g, [gr, msg, ex]) => g.sendToGroup(names(gr), msg as Message, { exclude: excluded(ex) })),
    sendToAll: method([message, { name: 'client_id_array', check: checkClientIds, optional: true }, exclude], (g, [msg, ids, ex]) =>
      g.sendToAll(msg as Message, { clientIds: ids as string[] | undefined, exclude: excluded(ex) }),
    ),

    // ---- connections ----
    isOnline: method([clientId], (g, [id]) => g.isOnline(str(id))),
    closeClient: method([clientId, optionalMessage], (g, [id, msg]) => g.closeClient(str(id), msg as Message | undefined)),
    destroyClient: method([clientId], (g, [id]) => g.destroyClient(str(id))),
    /** GatewayClient's spelling. */
    destoryClient: method([clientId], (g, [id]) => g.destroyClient(str(id))),
    getConnection: method([clientId], (g, [id]) => g.getConnection(str(id))),
    /** True when the token is the client's and unexpired (a backend may check before its own work). */
    verifyBindToken: method([clientId, requiredBindToken], (g, [id, token]) => g.verifyBindToken(str(id), str(token))),

    // ---- sessions ----
    getSession: method([clientId], (g, [id]) => g.getSession(str(id))),
    setSession: method([clientId, session], (g, [id, s]) => g.setSession(str(id), s as Record<string, unknown>)),
    updateSession: method([clientId, session], (g, [id, s]) => g.updateSession(str(id), s as Record<string, unknown>)),

    // ---- uids ----
    bindUid: method([clientId, uid, bindToken], (g, [id, u, token]) => g.bindUid(str(id), str(u), bindingOptions(token))),
    unbindUid: method([clientId, { ...uid, optional: true }], (g, [id, u]) => g.unbindUid(str(id), u as string | undefined)),
    getUidByClientId: method([clientId], (g, [id]) => g.getUidByClientId(str(id))),
    isUidOnline: method([uid], (g, [u]) => g.isUidOnline(str(u))),
    getClientIdByUid: method([uid], (g, [u]) => g.getClientIdByUid(str(u))),
    isUidsOnline: method([uidList], (g, [u]) => g.isUidsOnline(list(u))),
    batchGetClientIdByUid: method([uidList], (g, [u]) => g.batchGetClientIdByUid(list(u))),
    closeUid: method([uid, optionalMessage], (g, [u, msg]) => g.closeUid(str(u), msg as Message | undefined)),

    // ---- groups ----
    joinGroup: method([clientId, group, bindToken], (g, [id, gr, token]) => g.joinGroup(str(id), str(gr), bindingOptions(token))),
    /** Not GatewayClient's: a presence join (sdk/gateway/presence.ts); answers { members, announced }. */
    joinPresence: method([clientId, group, presenceMember, bindToken], (g, [id, gr, member, token]) =>
      g.joinPresence(str(id), str(gr), member as PresenceMember, bindingOptions(token)),
    ),
    getPresenceMembers: method([group], (g, [gr]) => g.getPresenceMembers(str(gr))),
    /** With bind_token (not GatewayClient's), checked as joinGroup checks it: a leave a page asked for. */
    leaveGroup: method([clientId, group, bindToken], (g, [id, gr, token]) => g.leaveGroup(str(id), str(gr), bindingOptions(token))),
    ungroup: method([group], (g, [gr]) => g.ungroup(str(gr))),
    getGroupsByClientId: method([clientId], (g, [id]) => g.getGroupsByClientId(str(id))),
    getClientIdListByGroup: method([groups], (g, [gr]) => g.getClientIdListByGroup(names(gr))),
    getClientIdCountByGroup: method([groupOrAll], (g, [gr]) => (gr ? g.getClientIdCountByGroup(str(gr)) : g.getAllClientIdCount())),
    getClientCountByGroup: method([groupOrAll], (g, [gr]) => (gr ? g.getClientCountByGroup(str(gr)) : g.getAllClientCount())),
    getClientSessionsByGroup: method([group], (g, [gr]) => g.getClientSessionsByGroup(str(gr))),
    getUidListByGroup: method([groups], (g, [gr]) => g.getUidListByGroup(names(gr))),
    getUidCountByGroup: method([groups], (g, [gr]) => g.getUidCountByGroup(names(gr))),
    batchGetClientIdCountByGroup: method([groupList], (g, [gr]) => g.batchGetClientIdCountByGroup(list(gr))),

    // ---- everything ----
    getAllClientCount: noArgs((g) => g.getAllClientCount()),
    getAllClientIdCount: noArgs((g) => g.getAllClientIdCount()),
    getAllClientIdList: noArgs((g) => g.getAllClientIdList()),
    /** GatewayClient's `$group = ''`: with a group, that group's sessions. */
    getAllClientSessions: method([groupOrAll], (g, [gr]) => (gr ? g.getClientSessionsByGroup(str(gr)) : g.getAllClientSessions())),
    getAllUidList: noArgs((g) => g.getAllUidList()),
    getAllUidCount: noArgs((g) => g.getAllUidCount()),
    getAllGroupIdList: noArgs((g) => g.getAllGroupIdList()),
    getAllGroupClientIdList: noArgs((g) => g.getAllGroupClientIdList()),
    getAllGroupClientIdCount: noArgs((g) => g.getAllGroupClientIdCount()),
    getAllGroupUidList: noArgs((g) => g.getAllGroupUidList()),
    getAllGroupUidCount: noArgs((g) => g.getAllGroupUidCount()),
  } satisfies Record<string, GatewayApiMethod>),
);
