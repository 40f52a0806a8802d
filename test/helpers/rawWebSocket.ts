/**
 * A raw TCP WebSocket client for bad-input tests: it completes the handshake, then writes whatever
 * it is given, and reads the server's frames only as far as it needs (text frames, the close code).
 */
import assert from 'node:assert/strict';
import { connect as tcpConnect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';

export interface RawWebSocket {
  readonly socket: Socket;
  /** The code of the server's close frame; undefined when the socket ended without one. */
  readonly closeCode: Promise<number | undefined>;
  /** Resolves once the server sent a text frame (e.g. the init message). */
  readonly firstTextFrame: Promise<void>;
  /** Everything the server sent after the handshake, so far. */
  received(): Buffer;
}

export interface RawWebSocketOptions {
  /**
   * Keep this side of the TCP connection open when the server ends its side, as a client that is
   * slow to finish the close handshake does: the server then stays in its closing state.
   */
  readonly allowHalfOpen?: boolean;
}

/** A client frame: FIN, the opcode, the payload (under 126 bytes) masked with a zero key. */
export function maskedClientFrame(opcode: number, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length]), Buffer.alloc(4), payload]);
}

/** A client close frame with a status code. */
export function clientCloseFrame(code: number): Buffer {
  const payload = Buffer.alloc(2);
  payload.writeUInt16BE(code);
  return maskedClientFrame(0x8, payload);
}

/** The complete frames in what the server sent (unmasked): how many text frames, and the first close code. */
export function walkServerFrames(frames: Buffer): { textFrames: number; closeCode?: number } {
  let offset = 0;
  let textFrames = 0;
  while (offset + 2 <= frames.length) {
    const opcode = frames[offset]! & 0x0f;
    let length = frames[offset + 1]! & 0x7f;
    let header = 2;
    if (length === 126) {
      if (offset + 4 > frames.length) break;
      length = frames.readUInt16BE(offset + 2);
      header = 4;
    } else if (length === 127) {
      if (offset + 10 > frames.length) break;
      length = Number(frames.readBigUInt64BE(offset + 2));
      header = 10;
    }
    if (offset + header + length > frames.length) break;
    if (opcode === 0x8) return { textFrames, closeCode: length >= 2 ? frames.readUInt16BE(offset + header) : 1005 };
    if (opcode === 0x1) textFrames++;
    offset += header + length;
  }
  return { textFrames };
}

export async function openRawWebSocket(wsUrl: string, options: RawWebSocketOptions = {}): Promise<RawWebSocket> {
  const url = new URL(wsUrl);
  const socket = tcpConnect({ port: Number(url.port), host: url.hostname, allowHalfOpen: options.allowHalfOpen ?? false });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.write(
    `GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  let buffered = Buffer.alloc(0);
  let handshakeDone = false;
  let resolveOpen!: () => void;
  const opened = new Promise<void>((r) => (resolveOpen = r));
  let resolveText!: () => void;
  const firstTextFrame = new Promise<void>((r) => (resolveText = r));
  const closeCode = new Promise<number | undefined>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (!handshakeDone) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end === -1) return;
        assert.match(buffered.subarray(0, end).toString(), /^HTTP\/1\.1 101/);
        buffered = buffered.subarray(end + 4);
        handshakeDone = true;
        resolveOpen();
      }
      const frames = walkServerFrames(buffered);
      if (frames.textFrames > 0) resolveText();
      if (frames.closeCode !== undefined) resolve(frames.closeCode);
    });
    socket.on('close', () => resolve(undefined));
    socket.on('error', () => resolve(undefined));
  });
  await opened;
  return { socket, closeCode, firstTextFrame, received: () => buffered };
}
