/**
 * dynalite answers DescribeTimeToLive with DISABLED for every table: it has no TTL. The gateway
 * sweeps expired items itself (LocalDynamo.sweepExpiredItems), so for a table defined with a TTL
 * attribute DescribeTimeToLive must say ENABLED with that attribute, as DynamoDB does. dynalite still
 * answers the request (validation, ResourceNotFoundException for a missing table); only its success
 * body is replaced, with the CRC32 header the AWS SDK checks.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

const DESCRIBE_TIME_TO_LIVE = 'DynamoDB_20120810.DescribeTimeToLive';

/** `ttlAttributeOf(table)`: the TTL attribute the gateway sweeps for that table, if any. */
export function reportTimeToLive(server: Server, ttlAttributeOf: (tableName: string) => string | undefined): void {
  const handlers = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.headers['x-amz-target'] === DESCRIBE_TIME_TO_LIVE) replaceSuccessBody(req, res, ttlAttributeOf);
    for (const handler of handlers) handler.call(server, req, res);
  });
}

function replaceSuccessBody(req: IncomingMessage, res: ServerResponse, ttlAttributeOf: (tableName: string) => string | undefined): void {
  // Listening before dynalite does sees the same chunks it reads.
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  const end = res.end.bind(res) as (body?: string) => ServerResponse;
  res.end = ((body?: string) => {
    const attribute = res.statusCode === 200 ? ttlAttributeOf(tableNameIn(Buffer.concat(chunks))) : undefined;
    if (attribute === undefined) return end(body);
    const replaced = JSON.stringify({ TimeToLiveDescription: { AttributeName: attribute, TimeToLiveStatus: 'ENABLED' } });
    res.setHeader('Content-Length', Buffer.byteLength(replaced));
    res.setHeader('x-amz-crc32', crc32(Buffer.from(replaced)));
    return end(replaced);
  }) as ServerResponse['end'];
}

function tableNameIn(body: Buffer): string {
  try {
    const name = (JSON.parse(body.toString('utf8')) as { TableName?: unknown }).TableName;
    return typeof name === 'string' ? name : '';
  } catch {
    return '';
  }
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** CRC-32 (IEEE), as DynamoDB's `x-amz-crc32` header carries it; Node 20 has no zlib.crc32. */
export function crc32(data: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
