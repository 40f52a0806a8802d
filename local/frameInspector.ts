/**
 * Reads the inbound WebSocket byte stream only as far as frame headers, to enforce API Gateway's
 * 32 KB frame limit, which `ws` cannot express: its `maxPayload` covers whole messages (used for the
 * 128 KB message limit). Payload bytes are skipped, never copied. Runs before `ws` sees the data.
 */
export class FrameHeaderInspector {
  private header: number[] = [];
  private skipBytes = 0;
  private stopped = false;

  constructor(
    private readonly maxFrameBytes: number,
    private readonly onOversizedFrame: (payloadBytes: number) => void,
  ) {}

  feed(chunk: Buffer): void {
    let offset = 0;
    while (!this.stopped && offset < chunk.length) {
      if (this.skipBytes > 0) {
        const n = Math.min(this.skipBytes, chunk.length - offset);
        this.skipBytes -= n;
        offset += n;
        continue;
      }
      this.header.push(chunk[offset++]!);
      const needed = this.headerLength();
      if (needed === undefined || this.header.length < needed) continue;
      const opcode = this.header[0]! & 0x0f;
      const payloadBytes = this.payloadLength();
      this.header = [];
      this.skipBytes = payloadBytes;
      const isDataFrame = opcode <= 0x2;
      if (isDataFrame && payloadBytes > this.maxFrameBytes) {
        this.stopped = true;
        this.onOversizedFrame(payloadBytes);
      }
    }
  }

  private headerLength(): number | undefined {
    if (this.header.length < 2) return undefined;
    const len7 = this.header[1]! & 0x7f;
    const masked = (this.header[1]! & 0x80) !== 0;
    return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (masked ? 4 : 0);
  }

  private payloadLength(): number {
    const len7 = this.header[1]! & 0x7f;
    if (len7 < 126) return len7;
    const bytes = Buffer.from(this.header);
    return len7 === 126 ? bytes.readUInt16BE(2) : Number(bytes.readBigUInt64BE(2));
  }
}
