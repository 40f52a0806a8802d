// The backend (GatewayBackend with this app's Events module) and a Lambda of the app's own that pushes.
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';
import { GatewayBackend } from 'serverless-gateway-worker/cdk';

export class ChatStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const backend = new GatewayBackend(this, 'Gateway', { eventsModule: 'src/events.ts' });
    const pusher = new NodejsFunction(this, 'Pusher', { entry: 'src/pusher.ts', runtime: lambda.Runtime.NODEJS_24_X });
    backend.grantGateway(pusher);
    new CfnOutput(this, 'PusherName', { value: pusher.functionName });
  }
}
