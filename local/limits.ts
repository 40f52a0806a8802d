/**
 * API Gateway WebSocket API quotas the local gateway enforces, each from the AWS quota page
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-execution-service-websocket-limits-table.html
 * Every value can be overridden per gateway so tests can shorten the timers.
 */
export interface GatewayLimits {
  /** Largest inbound message, all frames together; over it the connection closes with 1009. AWS: 128 KB, not raisable. */
  readonly maxMessageBytes: number;
  /** Largest single inbound frame; over it the connection closes with 1009. AWS: 32 KB, not raisable. */
  readonly maxFrameBytes: number;
  /** Largest PostToConnection payload; over it the post answers 413. AWS: 131072 bytes (Smithy model). */
  readonly maxPostBytes: number;
  /** Close with 1001 after this long without an inbound message. AWS: 10 minutes. */
  readonly idleTimeoutMs: number;
  /** Close with 1001 this long after connecting. AWS: 2 hours. */
  readonly maxConnectionDurationMs: number;
  /** A route integration that runs longer fails the message. AWS: 29 s (50 ms - 29 s). */
  readonly integrationTimeoutMs: number;
  /**
   * New connections accepted per second before the upgrade is answered 429. AWS: 500 per account and
   * region (raisable). Off (Infinity) by default so local load tests are not throttled.
   */
  readonly newConnectionsPerSecond: number;
  /**
   * Bytes queued towards one client before a post answers 429 LimitExceededException, which AWS also
   * uses for "the WebSocket client side buffer is full". The AWS figure is not published.
   */
  readonly clientBufferBytes: number;
}

export const AWS_LIMITS: GatewayLimits = {
  maxMessageBytes: 128 * 1024,
  maxFrameBytes: 32 * 1024,
  maxPostBytes: 131072,
  idleTimeoutMs: 10 * 60 * 1000,
  maxConnectionDurationMs: 2 * 60 * 60 * 1000,
  integrationTimeoutMs: 29_000,
  newConnectionsPerSecond: Number.POSITIVE_INFINITY,
  clientBufferBytes: 4 * 1024 * 1024,
};

/** WebSocket close codes the gateway uses, with the AWS behaviour each copies. */
export const CloseCode = {
  /** DeleteConnection, and a stop of the local gateway. */
  normal: 1000,
  /** Idle timeout and maximum connection duration. */
  goingAway: 1001,
  /** A malformed inbound frame (unmasked, reserved bits, bad opcode): the WebSocket protocol's code. */
  protocolError: 1002,
  /** An inbound binary frame (API Gateway rejects binary frames). */
  unsupportedData: 1003,
  /** A client that closed without a status code. */
  noStatus: 1005,
  /** The socket ended without a close frame. */
  abnormal: 1006,
  /** Invalid UTF-8 in an inbound text frame: the WebSocket protocol's code. */
  invalidPayload: 1007,
  /** An inbound message over 128 KB or frame over 32 KB. */
  messageTooBig: 1009,
} as const;
