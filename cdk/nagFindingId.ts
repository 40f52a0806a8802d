/**
 * cdk-nag names each IAM5 finding after the flattened value it flags (`Resource::arn:aws:...:<ApiRef>/...`),
 * so an acknowledgement must spell the value exactly as cdk-nag does. This mirrors cdk-nag 3's
 * flattenCfnReference (not exported by the package): Ref -> `<Id>`, Fn::GetAtt -> `<Id.Attr>`,
 * Fn::Join joined, `${x}` -> `<x>`.
 */
import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

export function flattenForNag(scope: IConstruct, value: string): string {
  const visit = (node: unknown): string => {
    if (node === undefined) return '';
    if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
    if (typeof node === 'object' && node !== null) {
      const o = node as Record<string, unknown>;
      if (Array.isArray(o['Fn::Join'])) {
        const [delimiter, items] = o['Fn::Join'] as [string, unknown[]];
        return items.map(visit).join(delimiter);
      }
      if (o['Fn::Sub'] !== undefined) return visit(o['Fn::Sub']);
      if (Array.isArray(o['Fn::GetAtt'])) {
        const [resource, attribute] = o['Fn::GetAtt'] as [unknown, unknown];
        return `<${visit(resource)}.${visit(attribute)}>`;
      }
      if (o['Fn::ImportValue'] !== undefined) return visit(o['Fn::ImportValue']);
      if (o.Ref !== undefined) return `<${visit(o.Ref)}>`;
    }
    return JSON.stringify(node);
  };
  return visit(Stack.of(scope).resolve(value));
}

/** The id of the AwsSolutions-IAM5 finding for a wildcard resource. */
export function iam5ResourceFindingId(scope: IConstruct, resourceArn: string): string {
  return `AwsSolutions-IAM5[Resource::${flattenForNag(scope, resourceArn)}]`;
}

/**
 * Acknowledges a finding named after a flattened value (`AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:...]`).
 * aws-cdk-lib 2.252-2.268 refuse a rule id with more than one `::` (2.269 learnt to skip the ones inside
 * brackets), which would make the construct unusable there; on those versions the acknowledgment is
 * recorded as the same metadata entry `Validations.acknowledge` writes and cdk-nag 3 reads.
 */
export function acknowledgeFinding(scope: IConstruct, acknowledgment: { readonly id: string; readonly reason: string }): void {
  try {
    Validations.of(scope).acknowledge(acknowledgment);
  } catch (error) {
    const refusedDelimiters = acknowledgment.id.split('::').length > 2 && /Invalid validation rule ID/.test(String((error as Error)?.message));
    if (!refusedDelimiters) throw error;
    scope.node.addMetadata(Validations.ACKNOWLEDGED_RULES_METADATA_KEY, { [acknowledgment.id]: acknowledgment.reason });
  }
}
