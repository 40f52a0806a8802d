/**
 * The seed's Events module, used when the construct is given none: push-only. The init message is
 * sent by `$connect` itself (GatewayBackendProps.initMessage, on by default), and messages from the
 * browser are accepted and ignored (no onMessage: the message Lambda returns at once, with no
 * DynamoDB read). Copy this file to start an Events module of your own.
 */
import type { GatewayEvents } from './events.ts';

export const events: GatewayEvents = {};

export default events;
