// A Lambda of the app's own that pushes: backend.grantGateway(pusher) gave it IAM and the environment.
import { Gateway } from 'serverless-gateway-worker';

const gateway = Gateway.fromEnv();

export const handler = async (event: { uid: string; text: string }) => {
  const report = await gateway.sendToUid(event.uid, { type: 'notice', text: event.text });
  return { sent: report.sent.length, gone: report.gone.length };
};
