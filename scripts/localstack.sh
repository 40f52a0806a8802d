#!/usr/bin/env bash
# `npm run localstack`: deploys the app to LocalStack with cdklocal, then runs the seed scenarios
# (test/scenarios/seedFlow.ts, the same code `npm test` runs on the local gateway) against it.
#
# Needs a running LocalStack whose plan includes API Gateway v2 WebSocket APIs (LocalStack's paid
# tier; LocalStack itself runs in Docker). Settings, all optional:
#   AWS_ENDPOINT_URL        LocalStack's endpoint (default http://localhost.localstack.cloud:4566)
#   AWS_REGION              default us-east-1
#   SCENARIO_WS_URL         the WebSocket URL, when LocalStack serves it elsewhere than the stack output says
#   GATEWAY_CALLBACK_URL    the @connections endpoint, likewise
set -euo pipefail
cd "$(dirname "$0")/.."

export AWS_ENDPOINT_URL="${AWS_ENDPOINT_URL:-http://localhost.localstack.cloud:4566}"
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_DEFAULT_REGION="$AWS_REGION"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export CDK_DISABLE_VERSION_CHECK=1

if ! node -e "fetch(process.env.AWS_ENDPOINT_URL + '/_localstack/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"; then
  echo "LocalStack is not reachable at $AWS_ENDPOINT_URL. Start it (it needs Docker, and WebSocket APIs need its paid tier), or set AWS_ENDPOINT_URL." >&2
  exit 1
fi

node scripts/prepare.mjs
npx cdklocal bootstrap
npx cdklocal deploy --require-approval never -c removalPolicy=destroy --outputs-file cdk.out/localstack-outputs.json
SCENARIO_OUTPUTS_FILE=cdk.out/localstack-outputs.json node --import tsx --test test/scenarios/deployed.ts
