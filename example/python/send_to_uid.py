"""The push of `Gateway::sendToUid('alice', 'hi')` from Python with boto3: one Invoke of the Gateway API.

Needs GATEWAY_API_FUNCTION and the usual AWS variables (`npm start` prints them all). botocore 1.31
and later read AWS_ENDPOINT_URL_LAMBDA themselves; for older ones it is passed as endpoint_url.
"""
import json
import os

import boto3

lambda_client = boto3.client("lambda", endpoint_url=os.environ.get("AWS_ENDPOINT_URL_LAMBDA"))


def gateway(method, *args):
    """Calls one GatewayClient method; raises with the Gateway's error code when it fails."""
    response = lambda_client.invoke(
        FunctionName=os.environ["GATEWAY_API_FUNCTION"],
        Payload=json.dumps({"method": method, "args": list(args)}),
    )
    answer = json.load(response["Payload"])
    if "FunctionError" in response:  # the function crashed: Lambda's {errorType, errorMessage}
        raise RuntimeError(f"Gateway API crashed: {answer}")
    if not answer["ok"]:
        raise RuntimeError(f"{answer['error']['code']}: {answer['error']['message']}")
    return answer["result"]


print(json.dumps(gateway("sendToUid", "alice", "hi")))
