#!/bin/sh
# The push of `Gateway::sendToUid('alice', 'hi')` from the AWS CLI v2: one Invoke of the Gateway API.
# Needs GATEWAY_API_FUNCTION and the usual AWS variables (`npm start` prints them all). CLI v2.13 and
# later read AWS_ENDPOINT_URL_LAMBDA themselves; for older ones it is passed as --endpoint-url.
set -eu
response=$(mktemp)
aws lambda invoke ${AWS_ENDPOINT_URL_LAMBDA:+--endpoint-url "$AWS_ENDPOINT_URL_LAMBDA"} \
  --function-name "$GATEWAY_API_FUNCTION" \
  --cli-binary-format raw-in-base64-out \
  --payload '{"method":"sendToUid","args":["alice","hi"]}' \
  "$response" >/dev/null
cat "$response"   # {"ok":true,"result":{"recipients":1,"sent":["..."],"gone":[],"failed":[]}}
rm -f "$response"
