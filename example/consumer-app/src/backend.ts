// A backend process outside Lambda (GatewayClient's usual place): binds a client to a uid, then pushes
// to that uid. It reads the environment the local gateway prints (or a deployed stack's outputs).
//   node build/src/backend.js <client_id> <bind_token> <uid> <text>   (both from the client's init message)
import { Gateway } from 'serverless-gateway-worker';

async function main(clientId: string, bindToken: string, uid: string, text: string): Promise<void> {
  const gateway = Gateway.fromEnv();
  try {
    await gateway.bindUid(clientId, uid, { bindToken });
    const report = await gateway.sendToUid(uid, { type: 'notice', text });
    console.log(JSON.stringify({ sent: report.sent.length }));
  } finally {
    gateway.destroy();
  }
}

const [clientId, bindToken, uid, text] = process.argv.slice(2);
if (!clientId || !bindToken || !uid || !text) {
  console.error('usage: node build/src/backend.js <client_id> <bind_token> <uid> <text>');
  process.exit(2);
}
main(clientId, bindToken, uid, text).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
