/**
 * The deployable app: one stack holding the GatewayBackend, checked by cdk-nag's AwsSolutions pack
 * at synth time (a finding fails `cdk synth`). Runs offline (cdk.json: notices off, telemetry off;
 * set CDK_DISABLE_VERSION_CHECK=1 to skip the CLI's version check too).
 *
 * Context (`cdk synth -c key=value`):
 *   stackName                  default 'ServerlessGatewayWorker'
 *   eventsModule               path of your Events module; default: the seed's (init, messages ignored)
 *   stageName                  default 'prod'
 *   routes                     comma-separated custom route keys
 *   removalPolicy              'retain' (default) or 'destroy'
 *   apiGatewayCloudWatchRole   'true' (default) to set the account's API Gateway logging role here,
 *                              'false' when another stack already owns it
 */
import { App, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { GatewayBackend, NO_AUTHORIZER_WARNING } from '../GatewayBackend.ts';

const app = new App();
const context = (key: string): string | undefined => {
  const value: unknown = app.node.tryGetContext(key);
  return value === undefined || value === null || value === '' ? undefined : String(value);
};

const stack = new Stack(app, context('stackName') ?? 'ServerlessGatewayWorker', {
  description: 'GatewayWorker + GatewayClient on API Gateway WebSocket APIs, Lambda and DynamoDB',
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});

const removalPolicy = context('removalPolicy');
if (removalPolicy !== undefined && removalPolicy !== 'retain' && removalPolicy !== 'destroy') {
  throw new Error(`context removalPolicy must be 'retain' or 'destroy', got ${JSON.stringify(removalPolicy)}`);
}

const backend = new GatewayBackend(stack, 'Gateway', {
  eventsModule: context('eventsModule'),
  stageName: context('stageName'),
  routes: context('routes')?.split(',').map((r) => r.trim()).filter(Boolean),
  removalPolicy: removalPolicy === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
  apiGatewayCloudWatchRole: context('apiGatewayCloudWatchRole') !== 'false',
});

// The seed is push-only and open, as a GatewayWorker gateway is: a connection learns its id and
// nothing else until the application's own (authenticated) backend binds that id to a uid or group.
const openConnectReason =
  'The seed app is push-only: any browser may connect and receives only its own client id; the application backend authenticates the user before binding that id (bindUid/joinGroup), so nothing private reaches an unbound connection. Set GatewayBackendProps.authorizer to require a token on connect.';
Validations.of(backend.connectRoute).acknowledge({ id: 'AwsSolutions-APIG4', reason: openConnectReason });
Validations.of(backend).acknowledge({ id: `annotation::${NO_AUTHORIZER_WARNING}`, reason: openConnectReason });

Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
