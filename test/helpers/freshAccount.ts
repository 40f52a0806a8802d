/**
 * What a fresh AWS account (or a fresh region of an old one) refuses at deploy time, checked on a
 * synthesized template. Each rule is a documented AWS behaviour:
 * - Lambda refuses a reserved concurrency that leaves fewer than 100 unreserved executions in the
 *   account (InvalidParameterValueException), and new accounts start with a concurrency quota too
 *   small for any reservation: no function may reserve (or provision) concurrency.
 * - API Gateway refuses a stage with access logs or execution logs in a region whose account-wide
 *   CloudWatch Logs role was never set ("CloudWatch Logs role ARN must be set in account settings to
 *   enable logging"): a logging stage needs an AWS::ApiGateway::Account in the same template, created
 *   before it.
 * - That role is the region's, not the stack's: when the template creates it, the role and the
 *   setting must be retained, or deleting the stack leaves the region naming a deleted role.
 * - A second copy of the same app in the account (staging + prod) fails with AlreadyExists on any
 *   resource with a fixed physical name: none may have one.
 */

export interface TemplateResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly DependsOn?: string | string[];
  readonly DeletionPolicy?: string;
  readonly UpdateReplacePolicy?: string;
}

export interface TemplateJson {
  readonly Resources: Record<string, TemplateResource>;
}

/** Physical-name properties by resource type, for the resources this backend creates. */
const NAME_PROPERTIES: Record<string, string> = {
  'AWS::IAM::Role': 'RoleName',
  'AWS::Lambda::Function': 'FunctionName',
  'AWS::DynamoDB::Table': 'TableName',
  'AWS::SQS::Queue': 'QueueName',
  'AWS::Logs::LogGroup': 'LogGroupName',
  'AWS::CloudWatch::Alarm': 'AlarmName',
  'AWS::SNS::Topic': 'TopicName',
};

/** Every reason a fresh account would refuse `template` (empty: it deploys). */
export function freshAccountRefusals(template: TemplateJson): string[] {
  const refusals: string[] = [];
  const resources = Object.entries(template.Resources);
  const accounts = resources.filter(([, r]) => r.Type === 'AWS::ApiGateway::Account');

  for (const [id, r] of resources) {
    const p = r.Properties ?? {};
    if (r.Type === 'AWS::Lambda::Function' && p.ReservedConcurrentExecutions !== undefined) {
      refusals.push(`${id}: reserves ${String(p.ReservedConcurrentExecutions)} concurrent executions`);
    }
    if (r.Type === 'AWS::Lambda::Version' || r.Type === 'AWS::Lambda::Alias') {
      if ((p.ProvisionedConcurrencyConfig as object | undefined) !== undefined) refusals.push(`${id}: provisions concurrency`);
    }
    if (r.Type === 'AWS::ApiGatewayV2::Stage' || r.Type === 'AWS::ApiGateway::Stage') {
      const routeSettings = (p.DefaultRouteSettings ?? {}) as { LoggingLevel?: string; DataTraceEnabled?: boolean };
      const methodSettings = (p.MethodSettings ?? []) as Array<{ LoggingLevel?: string; DataTraceEnabled?: boolean }>;
      const executionLogs = [routeSettings, ...methodSettings].some(
        (s) => (s.LoggingLevel !== undefined && s.LoggingLevel !== 'OFF') || s.DataTraceEnabled === true,
      );
      const logs = [p.AccessLogSettings !== undefined ? 'access logs' : '', executionLogs ? 'execution logs' : ''].filter(Boolean).join(' and ');
      if (logs) {
        const dependsOn = [r.DependsOn ?? []].flat();
        if (!accounts.some(([accountId]) => dependsOn.includes(accountId))) {
          refusals.push(`${id}: ${logs} without an AWS::ApiGateway::Account created before the stage (the region may have no CloudWatch Logs role)`);
        }
      }
    }
    const nameProperty = NAME_PROPERTIES[r.Type];
    if (nameProperty && p[nameProperty] !== undefined) refusals.push(`${id}: fixed ${nameProperty} (a second copy of the app fails with AlreadyExists)`);
  }

  for (const [id, account] of accounts) {
    if (account.DeletionPolicy !== 'Retain') refusals.push(`${id}: the region's logging setting is not retained`);
    const roleArn = account.Properties?.CloudWatchRoleArn as { 'Fn::GetAtt'?: [string, string] } | undefined;
    const roleId = roleArn?.['Fn::GetAtt']?.[0];
    const role = roleId ? template.Resources[roleId] : undefined;
    if (role && (role.DeletionPolicy !== 'Retain' || role.UpdateReplacePolicy !== 'Retain')) {
      refusals.push(`${roleId}: the region's logging role is deleted with the stack, leaving the setting naming a deleted role`);
    }
  }
  return refusals;
}
