/**
 * The deployable app: one stack holding the GatewayBackend, checked by cdk-nag's AwsSolutions pack
 * at synth time (a finding fails `cdk synth`). Runs offline (cdk.json: notices off, telemetry off;
 * set CDK_DISABLE_VERSION_CHECK=1 to skip the CLI's version check too).
 *
 * Context (`cdk synth -c key=value`): see APP_CONTEXT_KEYS in cdk/appContext.ts (stackName,
 * eventsModule, stageName, routes, removalPolicy, apiGatewayCloudWatchRole, accessLogs, and every
 * fan-out prop as fanoutXxx). The app sets the region's API Gateway logging role by default, so
 * that access logs work on a fresh account; pass apiGatewayCloudWatchRole=false where another stack
 * owns it (with accessLogs=true if that role exists).
 */
import { App, Stack, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { GatewayBackend, NO_AUTHORIZER_WARNING } from '../GatewayBackend.ts';
import { appSettingsFromContext, domainNameProps, type AppContextKey } from '../appContext.ts';

const app = new App();
const { stackName, props, domain } = appSettingsFromContext((key: AppContextKey) => {
  const value: unknown = app.node.tryGetContext(key);
  return value === undefined || value === null || value === '' ? undefined : String(value);
});

const stack = new Stack(app, stackName, {
  description: 'GatewayWorker + GatewayClient on API Gateway WebSocket APIs, Lambda and DynamoDB',
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});

const backend = new GatewayBackend(stack, 'Gateway', { ...props, ...(domain ? { domainName: domainNameProps(stack, domain) } : {}) });

// The seed is push-only and open, as a GatewayWorker gateway is. What an unbound connection can
// receive: its own client id and bind token, and every sendToAll (GatewayWorker's sendToAll reaches
// every connection, bound or not, and a drop-in keeps that). Sends by uid or group reach only
// connections the application's own (authenticated) backend bound.
const openConnectReason =
  "The seed app is push-only: any browser may connect. An unbound connection receives its own client id and bind token, and whatever the application sends with sendToAll, which reaches every connection as GatewayWorker's does: sendToAll is for public broadcasts only. Everything else (sendToUid, sendToGroup, sendToClient after a bind) reaches only connections the application backend bound after authenticating the user (bindUid/joinGroup with the bind token). $connect is throttled on its own route (connectThrottle). Set GatewayBackendProps.authorizer to require a token on connect.";
Validations.of(backend.connectRoute).acknowledge({ id: 'AwsSolutions-APIG4', reason: openConnectReason });
Validations.of(backend).acknowledge({ id: `annotation::${NO_AUTHORIZER_WARNING}`, reason: openConnectReason });

Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
