/** Direct looks at the five tables, to check what the SDK wrote (not through the SDK). */
import { GetCommand, QueryCommand, ScanCommand, UpdateCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TEST_TABLES } from '../../testkit/gatewayHarness.ts';

export async function connectionItem(doc: DynamoDBDocumentClient, id: string): Promise<Record<string, unknown> | undefined> {
  return (await doc.send(new GetCommand({ TableName: TEST_TABLES.connections, Key: { connectionId: id }, ConsistentRead: true }))).Item;
}

/** The connection's session item (session, version, identity). */
export async function sessionItem(doc: DynamoDBDocumentClient, id: string): Promise<Record<string, unknown> | undefined> {
  return (await doc.send(new GetCommand({ TableName: TEST_TABLES.sessions, Key: { connectionId: id }, ConsistentRead: true }))).Item;
}

export async function indexIds(doc: DynamoDBDocumentClient, role: 'uids' | 'groups', key: string): Promise<string[]> {
  const pk = role === 'uids' ? 'uid' : 'group';
  const out = await doc.send(
    new QueryCommand({
      TableName: TEST_TABLES[role],
      KeyConditionExpression: '#pk = :k',
      ExpressionAttributeNames: { '#pk': pk },
      ExpressionAttributeValues: { ':k': key },
      ConsistentRead: true,
    }),
  );
  return (out.Items ?? []).map((i) => i.connectionId as string).sort();
}

/** The items of the uids, groups and memberships tables that name the connection, as `role:key`. */
export async function indexItemsOf(doc: DynamoDBDocumentClient, id: string): Promise<string[]> {
  const found: string[] = [];
  for (const role of ['uids', 'groups', 'memberships'] as const) {
    const out = await doc.send(new ScanCommand({ TableName: TEST_TABLES[role], ConsistentRead: true }));
    for (const item of out.Items ?? []) if (item.connectionId === id) found.push(`${role}:${item[role === 'uids' ? 'uid' : 'group']}`);
  }
  return found.sort();
}

/** Makes a stored connection look as if it connected `ageMs` ago (past the SDK's $connect grace). */
export async function ageConnection(doc: DynamoDBDocumentClient, id: string, ageMs = 60_000): Promise<void> {
  await doc.send(
    new UpdateCommand({
      TableName: TEST_TABLES.connections,
      Key: { connectionId: id },
      UpdateExpression: 'SET connectedAt = :at',
      ConditionExpression: 'attribute_exists(connectionId)',
      ExpressionAttributeValues: { ':at': Date.now() - ageMs },
    }),
  );
}

export async function putIndexItem(doc: DynamoDBDocumentClient, role: 'uids' | 'groups', key: string, id: string): Promise<void> {
  await doc.send(
    new PutCommand({
      TableName: TEST_TABLES[role],
      Item: { [role === 'uids' ? 'uid' : 'group']: key, connectionId: id, expiresAt: Math.floor(Date.now() / 1000) + 3600 },
    }),
  );
}

/** A well-formed connection id no gateway ever issued. */
export function unknownId(n = 0): string {
  return `zzzzzzzzzzzz${String(n).padStart(3, '0')}=`;
}

/** A small seeded random source (mulberry32), for reproducible fault injection. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
