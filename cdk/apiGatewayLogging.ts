/**
 * API Gateway's account-wide CloudWatch Logs role: one setting per account and region
 * (`AWS::ApiGateway::Account`) that every stage with access or execution logging depends on. A stage
 * with access logs in a region where it was never set fails to deploy with "CloudWatch Logs role ARN
 * must be set in account settings to enable logging".
 *
 * Why both resources are always retained, whatever the backend's removalPolicy:
 * - Deleting `AWS::ApiGateway::Account` does not clear the setting, so retaining it costs nothing.
 * - Deleting the role would leave the region's setting pointing at a role that no longer exists, and
 *   every API in the region (not only this one) would stop logging. So the role outlives the stack.
 *
 * Two stacks that both create it (a staging and a prod copy of the app) do not break each other:
 * CloudFormation sets the region's value when each stack creates its `AWS::ApiGateway::Account`, so
 * the last one created wins and, both roles being retained and identical in what they allow, the
 * value always names a role that exists. What it costs is one retained role per stack that ever
 * created it; a second copy should rather pass `apiGatewayCloudWatchRole: false` with
 * `accessLogs: true`, since the first copy has set the region up.
 *
 * The trust policy is guarded against the confused deputy: API Gateway may assume the role only on
 * behalf of this account (`aws:SourceAccount`) and for API Gateway resources of this region
 * (`aws:SourceArn` like `arn:{partition}:apigateway:{region}::/*`, the form API Gateway's own resource
 * ARNs take). Without them any API Gateway customer who learned the role's ARN could name it in their
 * own account settings and have API Gateway write with it into this account's CloudWatch Logs. AWS
 * does not document whether API Gateway passes these keys when it assumes this role (nor which source
 * ARN), so both are `...IfExists`: a key API Gateway sends must match, and a key it does not send
 * cannot make the account setting (and so a fresh account's first deploy) fail. A plain StringEquals
 * would refuse the role outright if the key were absent, and nothing here can deploy to find out.
 */
import { Aws, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { acknowledgeFinding, flattenForNag } from './nagFindingId.ts';

export interface ApiGatewayLoggingRole {
  readonly role: iam.Role;
  readonly account: apigateway.CfnAccount;
}

/** Creates the role (ids `ApiGatewayCloudWatchRole`, `ApiGatewayAccount`), both retained. */
export function createApiGatewayLoggingRole(scope: Construct): ApiGatewayLoggingRole {
  const pushToCloudWatchLogs = iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonAPIGatewayPushToCloudWatchLogs');
  const role = new iam.Role(scope, 'ApiGatewayCloudWatchRole', {
    assumedBy: new iam.ServicePrincipal('apigateway.amazonaws.com', {
      conditions: {
        StringEqualsIfExists: { 'aws:SourceAccount': Stack.of(scope).account },
        ArnLikeIfExists: { 'aws:SourceArn': `arn:${Aws.PARTITION}:apigateway:${Stack.of(scope).region}::/*` },
      },
    }),
    managedPolicies: [pushToCloudWatchLogs],
    description:
      "API Gateway's account-wide CloudWatch Logs role for this region (AWS::ApiGateway::Account). Retained on stack deletion: other APIs in the region may log with it.",
  });
  role.applyRemovalPolicy(RemovalPolicy.RETAIN);
  acknowledgeFinding(role, {
    id: `AwsSolutions-IAM4[Policy::${flattenForNag(scope, pushToCloudWatchLogs.managedPolicyArn)}]`,
    reason:
      'The account-level role API Gateway writes logs with must allow it to create and write log groups it names itself; AWS maintains this policy for exactly that.',
  });
  const account = new apigateway.CfnAccount(scope, 'ApiGatewayAccount', { cloudWatchRoleArn: role.roleArn });
  account.applyRemovalPolicy(RemovalPolicy.RETAIN);
  return { role, account };
}
