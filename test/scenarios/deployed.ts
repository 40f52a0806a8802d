// The seed scenarios against a deployed stack (`npm run test:deployed`, or `npm run localstack`).
// Not part of `npm test`: it needs a stack, credentials and network. See targets.ts for the settings.
import { registerSeedScenarios } from './seedFlow.ts';
import { deployedTarget } from './targets.ts';

registerSeedScenarios(() => deployedTarget());
