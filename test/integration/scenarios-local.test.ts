// The seed scenarios against the synthesized app (cdk.out) on the local gateway: the same scenario
// code `npm run test:deployed` runs against LocalStack or AWS.
import { registerSeedScenarios } from '../scenarios/seedFlow.ts';
import { localTarget } from '../scenarios/targets.ts';

registerSeedScenarios(() => localTarget());
