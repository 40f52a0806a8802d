/** Small HTTP helpers shared by the management and invoke APIs: AWS-style JSON errors and body reading. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { newGatewayId } from './ids.ts';

/** Answers with AWS's error convention: the `x-amzn-ErrorType` header the SDKs map to exception classes. */
export function sendAwsError(res: ServerResponse, status: number, errorType: string, body: unknown | undefined): void {
  const payload = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    'x-amzn-RequestId': newGatewayId(),
    'x-amzn-ErrorType': errorType,
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(payload),
  });
  res.end(payload);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'x-amzn-RequestId': newGatewayId(),
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(payload),
    ...headers,
  });
  res.end(payload);
}

export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'x-amzn-RequestId': newGatewayId(), 'Content-Length': 0, ...headers });
  res.end();
}

/** Reads the whole body, or reports `tooLarge` once it passes `limit` (the rest is drained, not kept). */
export function readBody(req: IncomingMessage, limit: number): Promise<{ body: Buffer; tooLarge: boolean }> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      req.once('end', () => resolve({ body: Buffer.alloc(0), tooLarge: true }));
      req.once('error', reject);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) tooLarge = true;
      if (!tooLarge) chunks.push(chunk);
    });
    req.once('end', () => resolve({ body: tooLarge ? Buffer.alloc(0) : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), tooLarge }));
    req.once('error', reject);
  });
}

/** A request signed with SigV4 carries `Authorization: AWS4-HMAC-SHA256 Credential=...`. The signature is not verified. */
export function hasSigV4Authorization(req: IncomingMessage): boolean {
  const auth = req.headers.authorization;
  return typeof auth === 'string' && auth.startsWith('AWS4-HMAC-SHA256 ') && auth.includes('Credential=') && auth.includes('Signature=');
}

/** The service a SigV4 signature is scoped to (`Credential=KEY/DATE/REGION/SERVICE/aws4_request`). */
export function signedService(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth !== 'string') return undefined;
  return /Credential=[^/,\s]+\/\d{8}\/[^/,\s]+\/([^/,\s]+)\/aws4_request/.exec(auth)?.[1];
}

/** Path segments, each URL-decoded; undefined when a segment is not valid percent-encoding. */
export function decodedPathSegments(rawUrl: string): string[] | undefined {
  const query = rawUrl.indexOf('?');
  const path = query === -1 ? rawUrl : rawUrl.slice(0, query);
  try {
    return path
      .split('/')
      .slice(1)
      .map((segment) => decodeURIComponent(segment));
  } catch {
    return undefined;
  }
}
