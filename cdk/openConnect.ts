/**
 * The deployable app's acknowledgement of an open `$connect` (no authorizer), with what an unbound
 * connection can receive. Kept apart from cdk/bin/app.ts (which synthesizes on import) so that a
 * test can check the reason and where it is recorded.
 *
 * The reason once said that nothing private reaches an unbound connection. `sendToAll` does reach
 * every connection, bound or not, as GatewayWorker's does; a drop-in keeps that behaviour, so the
 * reason says it instead, and that `sendToAll` is for public broadcasts.
 */
import { Validations } from 'aws-cdk-lib';
import { NO_AUTHORIZER_WARNING, type GatewayBackend } from './GatewayBackend.ts';

export const OPEN_CONNECT_REASON =
  "The seed app is push-only: any browser may connect. An unbound connection receives its own client id and bind token, and whatever the application sends with sendToAll, which reaches every connection as GatewayWorker's does: sendToAll is for public broadcasts only. Everything else (sendToUid, sendToGroup, sendToClient after a bind) reaches only connections the application backend bound after authenticating the user (bindUid/joinGroup with the bind token). $connect is throttled on its own route (connectThrottle). Set GatewayBackendProps.authorizer to require a token on connect.";

/** Acknowledges cdk-nag's APIG4 on `$connect` and the construct's no-authorizer warning, with OPEN_CONNECT_REASON. */
export function acknowledgeOpenConnect(backend: GatewayBackend): void {
  Validations.of(backend.connectRoute).acknowledge({ id: 'AwsSolutions-APIG4', reason: OPEN_CONNECT_REASON });
  Validations.of(backend).acknowledge({ id: `annotation::${NO_AUTHORIZER_WARNING}`, reason: OPEN_CONNECT_REASON });
}
