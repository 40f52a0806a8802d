// The app: one stage (Dev) holding the chat stack, as apps with several environments do.
import { App, Stage } from 'aws-cdk-lib';
import { ChatStack } from '../lib/chat-stack.js';

const app = new App();
const dev = new Stage(app, 'Dev');
new ChatStack(dev, 'Chat');
