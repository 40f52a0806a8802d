// Acknowledging cdk-nag findings named after a flattened ARN (cdk/nagFindingId.ts): through
// Validations.acknowledge where aws-cdk-lib takes the id, as the metadata entry cdk-nag 3 reads where
// aws-cdk-lib refuses an id for its nested `::` (2.252-2.268 do for every IAM5 resource id; every
// version does for `::` outside brackets), and any other refusal passed on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { acknowledgeFinding } from '../../cdk/nagFindingId.ts';

function acknowledgedIds(scope: Construct): Record<string, string> {
  const entries = scope.node.metadata.filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY);
  return Object.assign({}, ...entries.map((entry) => entry.data as Record<string, string>));
}

test('an IAM5 resource id goes through Validations.acknowledge on this aws-cdk-lib', () => {
  const scope = new Construct(new Stack(new App(), 'Acks'), 'Role');
  const id = 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<Api>/prod/POST/@connections/*]';
  acknowledgeFinding(scope, { id, reason: 'connection ids exist only at run time' });
  const recorded = Object.entries(acknowledgedIds(scope));
  assert.equal(recorded.length, 1);
  assert.ok(recorded[0]![0].endsWith(id), `recorded as ${recorded[0]![0]}`);
  assert.equal(recorded[0]![1], 'connection ids exist only at run time');
});

test('an id aws-cdk-lib refuses for its nested "::" is recorded as the metadata entry cdk-nag reads', () => {
  const scope = new Construct(new Stack(new App(), 'Acks'), 'Role');
  const id = 'Rule::with::nested::delimiters';
  assert.throws(() => Validations.of(scope).acknowledge({ id, reason: 'r' }), /Invalid validation rule ID/, 'this aws-cdk-lib refuses it');
  acknowledgeFinding(scope, { id, reason: 'kept for cdk-nag' });
  assert.deepEqual(acknowledgedIds(scope), { [id]: 'kept for cdk-nag' });
});

test('any other refusal of aws-cdk-lib is passed on, nothing recorded', () => {
  const scope = new Construct(new Stack(new App(), 'Acks'), 'Role');
  assert.throws(() => acknowledgeFinding(scope, { id: '::NoPlugin', reason: 'r' }), /Invalid validation rule ID/);
  assert.deepEqual(acknowledgedIds(scope), {});
});
