<?php
// GatewayClient's settings in ThinkPHP's and webman's style: copy to your app's config/gateway_worker.php
// (ThinkPHP: config('gateway_worker'); webman: config('gateway_worker')). An existing file of that
// name (think-worker's, with its ports and businessWorker settings) works as it is: only the keys
// below are read, everything else is for GatewayWorker's own processes and is ignored.
return [
    // GatewayClient's Register address. Any register address (or an array of them) means this
    // gateway, whose Gateway API function GATEWAY_API_FUNCTION names.
    'registerAddress' => '127.0.0.1:1236',
    // Or the Gateway API function itself: a name, name:alias or ARN (wins over registerAddress).
    'function' => getenv('GATEWAY_API_FUNCTION') ?: null,
    // true: exceptions where GatewayClient stays quiet, delivery reports from sends; null reads GATEWAY_STRICT.
    'strict' => null,
    // Seconds to connect to Lambda's endpoint, and for a whole call.
    'connectTimeout' => 3,
    'timeout' => 30,
];
