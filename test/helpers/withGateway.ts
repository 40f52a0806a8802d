/** Runs `body` against a started local gateway and always stops it (TTL sweeper off unless asked). */
import { LocalGateway, type LocalGatewayOptions } from '../../local/index.ts';

export async function withGateway(options: LocalGatewayOptions, body: (gateway: LocalGateway) => Promise<void>): Promise<void> {
  const gateway = new LocalGateway({ ttlSweepIntervalMs: 0, ...options });
  await gateway.start();
  try {
    await body(gateway);
  } finally {
    await gateway.stop();
  }
}
