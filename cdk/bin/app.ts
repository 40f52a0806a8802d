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
import { GatewayBackend } from '../GatewayBackend.ts';
import { acknowledgeOpenConnect } from '../openConnect.ts';
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

// The seed is push-only and open, as a GatewayWorker gateway is (cdk/openConnect.ts says what an
// unbound connection can receive).
acknowledgeOpenConnect(backend);

Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
