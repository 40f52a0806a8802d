/**
 * The benchmark's other process: the local gateway (with DynamoDB) and N live `ws` clients, on their
 * own core. The parent (bench/fanout.ts) sends; this process tells it over IPC when the last socket
 * has received each round's message. Not run on its own.
 *
 * IPC in:  { type: 'expect', round, count }  -> { type: 'armed', round }
 *          { type: 'stop' }                  -> stops the gateway and exits
 * IPC out: { type: 'ready', callbackUrl, dynamoEndpoint, region, ids }
 *          { type: 'done', round }           when `count` messages of that round have arrived
 */
import { GatewayHarness } from '../testkit/gatewayHarness.ts';

const clientCount = Number(process.env.BENCH_CLIENTS ?? 1000);

function send(message: unknown): void {
  process.send!(message);
}

async function main(): Promise<void> {
  const harness = await GatewayHarness.start();
  const clients = await harness.connectMany(clientCount, 50);
  let round = -1;
  let expected = 0;
  let received = 0;
  for (const client of clients) {
    client.socket.on('message', (data: Buffer) => {
      // Messages are `r<round>|...`; only the current round counts.
      let value = 0;
      let i = 1;
      for (; i < data.length && data[i] !== 0x7c; i++) value = value * 10 + (data[i]! - 48);
      if (data[0] !== 0x72 || value !== round) return;
      if (++received === expected) send({ type: 'done', round });
    });
  }
  process.on('message', (message: { type: string; round?: number; count?: number }) => {
    if (message.type === 'expect') {
      round = message.round!;
      expected = message.count!;
      received = 0;
      for (const client of clients) client.messages.length = 0;
      send({ type: 'armed', round });
    } else if (message.type === 'stop') {
      void harness.stop().then(() => process.exit(0));
    }
  });
  send({
    type: 'ready',
    callbackUrl: harness.endpoints.callbackUrl,
    dynamoEndpoint: harness.endpoints.dynamoEndpoint,
    region: harness.endpoints.region,
    ids: clients.map((c) => c.id),
  });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
